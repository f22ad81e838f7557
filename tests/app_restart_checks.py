"""The app server itself killed with SIGKILL mid-epoch and started again (issue 21, item 2):

    python tests/app_restart_checks.py --data-dir DIR --tmp DIR

One `python -m app.serve` server (as `make class` starts it: the durable run registry on, 2
training workers) on a checkpoint folder of its own. Six browserless visitors
(bench/protocol_client.py) open the Train page, each in a workspace of its own, and press Start
(the fast preset, 2 epochs, 10 % of the data): two runs train, four wait. As soon as a training run
has written its first epoch checkpoint (it is then in its second epoch) the server is killed with
SIGKILL and started again on the same folder. Each visitor then opens their private link on the
new server, answers its "Open it" prompt, and follows their run until the page says it finished.

Prints one JSON line per check ({"check": name, ...}); tests/test_restart.py asserts on them.
Every wait is bounded.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.protocol_client import Session  # noqa: E402
from bench.server import serve  # noqa: E402

VISITORS = 6
FOLLOW_S = 300
FINISHED = re.compile(r"Finished: ([0-9.]+)\s*% test accuracy")


def emit(check: str, **facts) -> None:
    print(json.dumps({"check": check, **facts}), flush=True)


def private_link(s: Session) -> str:
    return next((t for t in s.texts("code") if "?ws=" in t), "")


async def start_runs(url: str) -> list[str]:
    """Six visitors press Start; returns each one's private-link secret, in order."""
    secrets_: list[str] = []
    for _ in range(VISITORS):
        async with Session(url) as visitor:
            await visitor.open("train")
            await visitor.set_value(visitor.widget(key="train.epochs"), 2)
            await visitor.click(visitor.widget(key="train.start"))
            await visitor.follow(lambda s: bool(private_link(s)), FOLLOW_S)
            link = private_link(visitor)
            secrets_.append(link.split("?ws=", 1)[-1].split("&")[0].strip())
    return secrets_


def wait_for_an_epoch_checkpoint(runs: Path, timeout: float = FOLLOW_S) -> bool:
    """True once a run has finished its first epoch (its epoch checkpoint is on disk): it is then
    training its second, so the kill lands mid-epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(runs.glob("*.epoch.pt")):
            return True
        time.sleep(0.05)
    return False


def registry_facts(runs: Path) -> dict:
    db = sqlite3.connect(runs / "registry.sqlite3")
    try:
        rows = db.execute("SELECT owner, state FROM runs").fetchall()
        events = db.execute("SELECT run_id, COUNT(*), COUNT(DISTINCT idx) FROM events GROUP BY run_id").fetchall()
        return {"integrity": db.execute("PRAGMA integrity_check").fetchone()[0],
                "runs": len(rows), "owners": len({o for o, _ in rows}),
                "states": sorted(s for _, s in rows),
                "duplicated_events": sum(1 for _, n, distinct in events if n != distinct)}
    finally:
        db.close()


async def come_back(url: str, secret: str) -> dict:
    """One visitor opens their private link on the restarted server and follows their run."""
    async with Session(url) as owner:
        await owner.open("train", f"ws={secret}")
        prompt = owner.find(label="Open it")
        if prompt:
            await owner.click(prompt[0])
        finished = await owner.follow(lambda s: any(FINISHED.search(t) for t in s.texts()), FOLLOW_S)
        texts = owner.texts()
        accuracy = next((float(m.group(1)) for t in texts if (m := FINISHED.search(t))), None)
        return {"asked": bool(prompt), "finished": finished, "accuracy": accuracy,
                "exceptions": [e for it in owner.interactions for e in it.exceptions]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    tmp = Path(args.tmp)
    checkpoints = tmp / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_LAB_CHECKPOINT_DIR": str(checkpoints),
           "CNN_LAB_RUN_REGISTRY": "1", "CNN_LAB_DATA_DIR": args.data_dir, "CNN_LAB_TRAINING_WORKERS": "2",
           "CNN_LAB_BACKEND": "local", "CNN_LAB_RUNS_PER_CLIENT": "10", "CNN_LAB_QUEUE_SHARE_PERCENT": "100",
           "CNN_LAB_WORKSPACES_PER_HOUR": "1000", "OMP_NUM_THREADS": "1"}
    runs = checkpoints / "runs"
    with serve("streamlit_app.py", tmp / "first.log", env=env, launcher="app.serve") as (url, proc):
        secrets_ = asyncio.run(asyncio.wait_for(start_runs(url), 600))
        mid_epoch = wait_for_an_epoch_checkpoint(runs)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        emit("killed", visitors=len(set(secrets_)), mid_epoch=mid_epoch,
             signal=proc.returncode == -signal.SIGKILL, before=registry_facts(runs))
    with serve("streamlit_app.py", tmp / "second.log", env=env, launcher="app.serve") as (url, _):
        async def everyone():
            return await asyncio.gather(*(come_back(url, s) for s in secrets_))
        back = asyncio.run(asyncio.wait_for(everyone(), 900))
        emit("restarted", visitors=back, after=registry_facts(runs),
             log_errors=[line for line in (tmp / "second.log").read_text().splitlines()
                         if "Traceback" in line or "CNN Lab error" in line][:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
