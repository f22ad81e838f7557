"""The Train page running a job through Ray: an AppTest session under CNN_LAB_BACKEND=ray starts
a small real run (the fast preset, 1% of MNIST, 1 epoch) and sees it finish. Prints one JSON line.

Run ONLY inside a private network namespace with loopback alone (Ray binds every interface):

    unshare --net sh -c 'ip link set lo up; CNN_LAB_BACKEND=ray python tests/ray_train_page_check.py --data-dir DIR'

tests/test_train_page.py::test_the_train_page_runs_a_job_through_ray does exactly that.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from app.session import job_manager  # noqa: E402
from tests.helpers import page_app  # noqa: E402
from core.workspace import workspace_id  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    if os.environ.get("CNN_LAB_BACKEND") != "ray":
        print("set CNN_LAB_BACKEND=ray", file=sys.stderr)
        return 2
    os.environ["CNN_LAB_DATA_DIR"] = args.data_dir
    os.environ["CNN_LAB_CHECKPOINT_DIR"] = tempfile.mkdtemp(prefix="cnn-lab-ray-page-")
    at = page_app("pages.train", timeout=300)
    at.session_state["lang"] = "en"
    at.run()
    at.select_slider(key="train.fraction").set_value(0.01).run()
    at.number_input(key="train.epochs").set_value(1).run()
    at.button(key="train.start").click().run()
    manager = job_manager()
    owner = workspace_id(at.session_state["app.workspace_secret"])
    job = manager.get(at.session_state.get("train.run"), owner)
    facts = {"check": "train_page_on_ray", "backend": manager.backend.name, "app_pid": os.getpid(),
             "exception": [str(e.value) for e in at.exception], "started": job is not None}
    if job is not None:
        t0 = time.monotonic()
        ended = job.wait(args.timeout)
        at.run()
        facts.update(
            ended=ended, seconds=round(time.monotonic() - t0, 1), state=job.state, error=job.error,
            worker_pid=job.worker.get("pid"), steps=sum(e["event"] == "step" for e in job.events()),
            success=[str(s.value) for s in at.success], has_model=job.model is not None,
            watch_link=" ".join(str(c.value) for c in at.code))
    print(json.dumps(facts), flush=True)
    manager.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
