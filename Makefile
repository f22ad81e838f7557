# Two commands: `make run` serves the app, `make test` runs the whole suite.
# Both create/refresh .venv from the project's own requirement files, so a fresh machine
# with only Python 3.11, make and the package registries is enough.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test venv dev-venv browser clean-venv bench

$(VENV)/.stamp-app: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 not found (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-app requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp-app
dev-venv: $(VENV)/.stamp-dev

# Browser tests drive Debian's Chromium through Playwright (Playwright's own browser download
# is not reachable here); CJK fonts so 简体中文 screenshots render.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'noto.*cjk' || ! fc-list 2>/dev/null | grep -qi 'color emoji'; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	fi

run: venv
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT)

test: dev-venv browser
	$(PY) -m pytest -q

bench: dev-venv
	$(PY) bench/train_bench.py --quick
	$(PY) bench/predict_bench.py
	$(PY) bench/conv_bench.py
	$(PY) bench/stream_bench.py --fraction 0.05
	$(PY) bench/robustness_bench.py --count 500

clean-venv:
	rm -rf $(VENV)
