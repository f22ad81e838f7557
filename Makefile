# Two commands: `make run` serves the app, `make test` runs the whole suite.
# Both create/refresh .venv from the project's own requirement files, so a fresh machine
# with only Python 3.11, make and the package registries is enough.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test live-rounds venv dev-venv ray-venv browser clean-venv bench serve-public class

$(VENV)/.stamp-app: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 not found (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-app requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Ray is optional for the app; the tests install it so the Ray backend is tested too.
$(VENV)/.stamp-ray: $(VENV)/.stamp-app requirements-ray.txt
	$(PY) -m pip install --quiet -r requirements-ray.txt
	touch $@

venv: $(VENV)/.stamp-app
dev-venv: $(VENV)/.stamp-dev
ray-venv: $(VENV)/.stamp-ray

# Browser tests drive Debian's Chromium through Playwright (Playwright's own browser download
# is not reachable here); CJK fonts so 简体中文 screenshots render.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'noto.*cjk' || ! fc-list 2>/dev/null | grep -qi 'color emoji'; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	fi

# `make run` serves this machine only (http://localhost:8501); HOST=0.0.0.0 to open it to the
# network. app.serve imports every library before the first visitor (no cold-start race).
run: venv
	CNN_LAB_RUN_REGISTRY=$${CNN_LAB_RUN_REGISTRY:-1} $(PY) -m app.serve --server.address $(or $(HOST),127.0.0.1) --server.port $(PORT)

# A public server for a class (README: "Run it for a class"): no tracebacks for visitors,
# uploads capped before they are read, no developer menu. Set CNN_LAB_TEACHER_KEY for the
# Class page. It listens on every interface (HOST=0.0.0.0) over plain HTTP: private links and the
# teacher key then cross the network readable by anyone on it. For a real class put TLS in front:
# run `HOST=127.0.0.1 CNN_LAB_BEHIND_PROXY=1 make class` and a reverse proxy with a certificate
# (Caddy: `lab.example.org { reverse_proxy 127.0.0.1:8501 }`; nginx: proxy_pass with the
# websocket upgrade headers, README "Run it for a class").
serve-public: venv
	@[ -n "$$CNN_LAB_TEACHER_KEY" ] || echo "note: CNN_LAB_TEACHER_KEY is not set, so the Class page is off"
	@[ "$(or $(HOST),0.0.0.0)" = "127.0.0.1" ] || echo "note: serving plain HTTP on every interface; put TLS in front for a class (README: Run it for a class)"
	CNN_LAB_RUN_REGISTRY=$${CNN_LAB_RUN_REGISTRY:-1} $(PY) -m app.serve --server.address $(or $(HOST),0.0.0.0) --server.port $(PORT) \
		--server.headless true --client.showErrorDetails none --client.toolbarMode minimal \
		--server.maxUploadSize 32 --browser.gatherUsageStats false

class: serve-public

test: dev-venv ray-venv browser
	$(PY) -m pytest -q

# The live lesson in Chromium, five rounds (4 learners to the end, a teacher's Stop); `make test` runs one.
live-rounds: dev-venv browser
	CNN_LAB_LIVE_ROUNDS=5 $(PY) -m pytest -q tests/test_live_browser.py

bench: dev-venv
	$(PY) bench/train_bench.py --quick
	$(PY) bench/predict_bench.py
	$(PY) bench/conv_bench.py
	$(PY) bench/stream_bench.py --fraction 0.05
	$(PY) bench/robustness_bench.py --count 500

clean-venv:
	rm -rf $(VENV)
