"""Streamlit's frontend, served with one line added to its index.html: where the app's server is.

Why: opened at a page's own address (/predict, /train?watch=…, a link a learner was given),
Streamlit's frontend cannot tell the page's name from a base path ("/predict" could be the page
"predict" or an app served under "/predict"), so it first asks /predict/_stcore/health and
/predict/_stcore/host-config, gets two 404s, and only then asks the app's root (Streamlit issue
7074; every deep link shows two "Failed to load resource: 404" in the browser's console). On a
busy class server that is one more round trip before the websocket opens, on every page load but
the home page's.

The frontend reads `window.__streamlit.BACKEND_BASE_URL` when it is set (Streamlit 1.67's own
setting for hosts that embed it) and then asks that address only. The added script sets it to the
folder of the page's own address, `new URL(".", location.href)`: the same folder the page's
scripts (`./static/js/…`) load from, so it stays right behind a proxy that adds a path prefix.
Streamlit redirects a page address with a trailing slash to the one without, so that folder is
always the app's root.

`static_folder()` builds, once per server start, a folder whose entries are links to Streamlit's
own static files except index.html, which is a copy with that script before the frontend's first
script; `use()` points Streamlit's static file handler at it. Nothing else of Streamlit changes.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

BASE_URL_SCRIPT = (
    "<script>/* CNN Lab (app/static_index.py): the app's root is this page's folder; without it "
    "the frontend first asks ./<page>/_stcore/ and gets a 404 */"
    "window.__streamlit = Object.assign({BACKEND_BASE_URL: new URL('.', window.location.href).href}, "
    "window.__streamlit || {});</script>"
)
_ANCHOR = '<script type="module"'


def with_base_url(index_html: str) -> str:
    """index.html with BASE_URL_SCRIPT just before the frontend's first module script (scripts
    run in order, so the setting is there when the frontend reads it). Unchanged when it has no
    module script (another Streamlit's page: better its own behaviour than a broken one)."""
    at = index_html.find(_ANCHOR)
    if at < 0 or BASE_URL_SCRIPT in index_html:
        return index_html
    return index_html[:at] + BASE_URL_SCRIPT + "\n    " + index_html[at:]


def static_folder(original: Path, into: Path) -> Path:
    """`into`/static: every entry of `original` linked, index.html rewritten (with_base_url)."""
    folder = into / "static"
    folder.mkdir(parents=True)
    for entry in original.iterdir():
        if entry.name == "index.html":
            (folder / entry.name).write_text(with_base_url(entry.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            (folder / entry.name).symlink_to(entry)
    return folder


def use() -> Path | None:
    """Point Streamlit's static file handler at a static_folder() (removed when the server exits).
    Returns it, or None when Streamlit's frontend is not where this version keeps it (nothing
    changed: the pages work as before, with the extra round trip)."""
    from streamlit import file_util

    original = Path(file_util.get_static_dir())
    if not (original / "index.html").is_file():
        return None
    into = Path(tempfile.mkdtemp(prefix="cnn-lab-frontend-"))
    atexit.register(shutil.rmtree, into, ignore_errors=True)
    folder = static_folder(original, into)
    file_util.get_static_dir = lambda: str(folder)
    return folder
