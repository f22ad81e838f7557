"""What one visitor's action costs the server: a Train page open, a digit drawn on Predict (its
CPU includes the Clear that follows), and N learners opening Train within 5 s (a lesson's
start), on an otherwise idle class server.

Per action: the server-side time from the rerun request to "script finished" (the protocol
client's figure, bench/protocol_client.py) and the server process's CPU seconds. The server is
pinned to core 0 and this script to core 1 (taskset), as in bench/class_load.py.

    CNN_LAB_DATA_DIR=../shared/data python bench/rerun_cost.py            # ≈ 1 min
    CNN_LAB_DATA_DIR=../shared/data python bench/rerun_cost.py --opens 15 --draws 40 --burst 30
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.class_load import TEACHER_KEY, canvas_value, mnist_digits  # noqa: E402
from bench.protocol_client import Session  # noqa: E402
from bench.server import CLASS_ENV, CLASS_OPTIONS, bundled_checkpoints, serve  # noqa: E402


def _cpu(proc) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def _summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(statistics.median(values), 3),
            "mean": round(statistics.mean(values), 3), "max": round(max(values), 3)}


async def opens(url: str, page: str, n: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n):
        async with Session(url) as s:
            it = await s.open(page)
            times.append(it.server_s)
            size = it.bytes
    return times, size


async def draws(url: str, digits) -> list[float]:
    times = []
    async with Session(url) as s:
        await s.open("predict")
        for d in digits:
            it = await s.set_json(s.widget(kind="bidi_component"), canvas_value(d))
            times.append(it.server_s)
            await s.click(s.widget(key="predict.clear"))
    return times


async def burst(url: str, n: int, seconds: float = 5.0) -> list[float]:
    async def one(i: int, out: list[float]) -> Session:
        await asyncio.sleep(seconds * i / n)
        s = Session(url)
        await s.connect()
        out.append((await s.open("train")).server_s)
        return s
    out: list[float] = []
    sessions = await asyncio.gather(*(one(i, out) for i in range(n)))
    for s in sessions:
        await s.close()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--opens", type=int, default=15, help="Train and Predict opens, one session each")
    p.add_argument("--draws", type=int, default=40, help="digits drawn on Predict")
    p.add_argument("--burst", type=int, default=30, help="learners opening Train within 5 s")
    args = p.parse_args(argv)
    data_dir = Path(os.environ.get("CNN_LAB_DATA_DIR", Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    import psutil

    digits = mnist_digits(data_dir, args.draws)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {"CNN_LAB_DATA_DIR": str(data_dir), "CNN_LAB_CHECKPOINT_DIR": str(bundled_checkpoints(tmp / "ck")),
               "CNN_LAB_TEACHER_KEY": TEACHER_KEY, "CNN_LAB_WORKSPACES_PER_HOUR": str(4 * args.burst + 100),
               **CLASS_ENV}
        cpus = "0" if (os.cpu_count() or 1) > 1 else None
        with serve("streamlit_app.py", tmp / "log", env=env, cpus=cpus, launcher="app.serve",
                   options=CLASS_OPTIONS) as (url, proc):
            server = psutil.Process(proc.pid)
            asyncio.run(opens(url, "train", 1))   # warm: the dataset and first imports
            row = {}
            for name, work in (("train_open", lambda: opens(url, "train", args.opens)),
                               ("predict_open", lambda: opens(url, "predict", args.opens)),
                               ("predict_draw", lambda: draws(url, digits)),
                               ("train_burst", lambda: burst(url, args.burst))):
                before = _cpu(server)
                result = asyncio.run(work())
                times, size = result if isinstance(result, tuple) else (result, None)
                cpu = _cpu(server) - before
                row[name] = {"server_s": _summary(times), "server_cpu_s": round(cpu, 2),
                             "cpu_per_action_s": round(cpu / len(times), 4),
                             **({"bytes": size} if size is not None else {})}
    print(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
