"""app/static_index.py: Streamlit's frontend served with the app's root named in index.html, so a
page opened at its own address (/predict, a watch link) connects without two 404s first. The
served page itself is checked on a real `python -m app.serve` in tests/test_cold_start.py."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app import static_index
from app.static_index import BASE_URL_SCRIPT, static_folder, with_base_url

PAGE = """<html><head>
    <script>window.prerenderReady = false</script>
    <script type="module" crossorigin src="./static/js/index.abc.js"></script>
    <link rel="modulepreload" href="./static/js/b.js"><script type="module" src="./x.js"></script>
  </head><body></body></html>"""


def test_the_setting_comes_just_before_the_frontends_first_script():
    html = with_base_url(PAGE)
    assert html.count(BASE_URL_SCRIPT) == 1
    assert html.index(BASE_URL_SCRIPT) < html.index('<script type="module"')
    assert html.index("prerenderReady") < html.index(BASE_URL_SCRIPT)     # nothing else moves
    assert html.replace(BASE_URL_SCRIPT + "\n    ", "") == PAGE
    assert with_base_url(html) == html                                    # once only
    assert with_base_url("<html><script>1</script></html>") == "<html><script>1</script></html>"


@pytest.mark.parametrize("address, root", [
    ("http://127.0.0.1:8501/predict", "http://127.0.0.1:8501/"),
    ("http://127.0.0.1:8501/train?watch=abc#x", "http://127.0.0.1:8501/"),
    ("http://127.0.0.1:8501/", "http://127.0.0.1:8501/"),
    ("https://lab.example/room-3/predict", "https://lab.example/room-3/"),   # behind a path prefix
    ("https://lab.example/room-3/", "https://lab.example/room-3/"),
])
def test_the_root_is_the_folder_of_the_pages_own_address(address, root):
    """The script as a browser runs it (Node's URL is the WHATWG URL a browser has)."""
    if shutil.which("node") is None:
        pytest.skip("no Node.js here to run the script")
    body = BASE_URL_SCRIPT.removeprefix("<script>").removesuffix("</script>")
    js = (f"const window = {{location: {{href: {json.dumps(address)}}}}}; {body}; "
          "console.log(window.__streamlit.BACKEND_BASE_URL)")
    out = subprocess.run(["node", "-e", js], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == root


def test_the_folder_links_every_file_but_the_rewritten_index(tmp_path):
    original = tmp_path / "streamlit-static"
    (original / "static" / "js").mkdir(parents=True)
    (original / "static" / "js" / "index.abc.js").write_text("console.log(1)")
    (original / "favicon.png").write_bytes(b"\x89PNG")
    (original / "index.html").write_text(PAGE)
    folder = static_folder(original, tmp_path / "served")
    assert sorted(p.name for p in folder.iterdir()) == ["favicon.png", "index.html", "static"]
    assert (folder / "static").is_symlink() and (folder / "favicon.png").is_symlink()
    assert (folder / "static" / "js" / "index.abc.js").read_text() == "console.log(1)"
    assert not (folder / "index.html").is_symlink()
    assert (folder / "index.html").read_text() == with_base_url(PAGE)
    assert (original / "index.html").read_text() == PAGE                  # Streamlit's own untouched


def test_use_points_streamlits_static_handler_at_it(monkeypatch):
    from streamlit import file_util

    monkeypatch.setattr(file_util, "get_static_dir", file_util.get_static_dir)   # restored after
    original = Path(file_util.get_static_dir())
    folder = static_index.use()
    assert folder is not None and Path(file_util.get_static_dir()) == folder
    assert BASE_URL_SCRIPT in (folder / "index.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in original.iterdir())
