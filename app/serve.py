"""Start the CNN Lab server with every library the pages use already imported.

    python -m app.serve [streamlit run options]      (what `make run` and `make class` do)

Why: Streamlit runs each session's script in its own thread, and the pages import pandas, Plotly,
PyTorch and OpenCV on their first run. On a freshly started server, several first visitors
arriving at once imported them concurrently, and one thread saw another's half-initialised module
(`AttributeError: partially initialized module 'pandas'` from the Home page's Plotly figure): every
one of those page runs failed with "CNN Lab error <id>". Python's import lock does not cover that
case (a module is in sys.modules while its own imports are still running). Streamlit 1.67 has no
server-start hook that runs before the first session, so this launcher imports everything once,
in the main thread, before it hands over to Streamlit's own command line; afterwards every page's
import is a dictionary lookup. Also checks every CNN_LAB_* setting first: a bad value stops the
server with its one sentence, before anyone connects, and measures this machine's training speed
for the first queue estimates (core.jobs.machine_rate) while no visitor shares the CPU, starts
the training queue (its worker processes) before the first visitor, and serves Streamlit's
frontend with the app's root named in its index.html (app/static_index.py: a page opened at its
own address connects without first getting two 404s).
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
# Imported on first use by the libraries themselves (so not named by any page's imports), yet hit
# by a first page run: pandas and pyarrow by Streamlit's data elements, Plotly's JSON encoder by
# st.plotly_chart.
_ALSO = ("pandas", "pyarrow", "plotly.io", "plotly.express", "streamlit.elements.plotly_chart")


def modules_to_preload() -> list[str]:
    """Every module the entry point and pages import, every module of core/ and app/, and the
    libraries' own lazily imported parts (_ALSO)."""
    names: set[str] = set(_ALSO)
    for path in [APP, *sorted((ROOT / "pages").rglob("*.py"))]:  # pages are packages
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    for package in ("core", "app"):
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if info.name != __name__:
                names.add(info.name)
    # Third-party Streamlit components (streamlit_*) may register themselves with the running
    # server's component registry when imported, so they can only be imported once it runs
    # (CNN Lab's own canvas, app/draw_canvas.py, registers on first use instead).
    return sorted(n for n in names if n != "__future__" and not n.startswith("streamlit_"))


def preload() -> list[str]:
    """Import them all now; returns the ones that could not be imported (optional extras such as
    Ray when it is not installed — the page that needs one says so itself)."""
    missing = []
    for name in modules_to_preload():
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    _warm_plotly()
    return missing


def _warm_plotly() -> None:
    """Plotly loads its validators and JSON engine on the first figure: make that figure now."""
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout=go.Layout(title="warm-up"))
    fig.add_trace(go.Bar(x=[0], y=[1]))
    fig.add_trace(go.Heatmap(z=[[0, 1], [1, 0]]))
    pio.to_json(fig, validate=True)


def _no_config_polling() -> None:
    """Streamlit polls every config.toml it might read (~/.streamlit/ and the project's) five times
    a second, on a thread of the web process, even with `server.fileWatcherType none`, so that a
    changed setting applies without a restart; a missing file is hashed again on every poll. On a
    busy class server each of those ten wake-ups a second waits for the GIL behind the visitors'
    page runs (py-spy, bench/class_load.py: the watcher's `Path.stat` and `exists` were in 4–5% of
    the web process's samples, most of it that wait). Idle, the web process uses 3.0 ms of CPU a
    second without them, 4.5 ms with them, and 2 threads instead of 5. The server reads its settings
    once, at start; a changed setting takes a restart, as every CNN_LAB_* setting already does."""
    from streamlit.web import bootstrap

    bootstrap._install_config_watchers = lambda flag_options: None


def _start_job_manager() -> None:
    """Build the server's job manager now (the one app.session.job_manager() returns: a
    cache_resource filled before Streamlit starts is the one its sessions get). Runs kept on disk
    are restored and resumed at once, and the training processes start while the server is idle:
    built at the first visit instead, a class's first two runs waited 8 s for their worker (a
    fork, torch and MNIST loaded beside thirty page runs; bench/class_load.py) and the queue's
    first estimates had no pace to follow. If it cannot be built now (a Ray cluster not up yet),
    the first page that needs it tries again and says why."""
    from app.session import job_manager

    try:
        job_manager()
    except Exception as e:  # noqa: BLE001 — the page's own attempt shows the visitor's sentence
        print(f"CNN Lab: the training queue will start with the first visitor ({e})", flush=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    from core import settings

    try:
        settings.check()
    except settings.SettingsError as e:
        print(f"CNN Lab cannot start: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    started = time.monotonic()
    missing = preload()
    print(f"CNN Lab: libraries imported in {time.monotonic() - started:.1f} s"
          + (f" (not installed: {', '.join(missing)})" if missing else ""), flush=True)
    from core.jobs.estimates import machine_rate

    machine_rate()   # the first queue estimates' rate, measured while no visitor shares the CPU
    _start_job_manager()
    from streamlit.web import cli

    _no_config_polling()
    from app import static_index

    static_index.use()   # deep links ask the app's root at once (no 404 round trip first)
    sys.argv = ["streamlit", "run", str(APP), *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
