"""What one live view costs per fragment rerun: bytes sent and server time, while a run trains and
once it is over (no new event), for the owner's ② Train tab and a watch link on the same run.

Drives the real app through bench/protocol_client.py (Streamlit's own websocket protocol): the
owner opens Train and presses Start (the page's defaults: fast preset, 10% of MNIST, 1 epoch); a
second visitor opens the run's watch link; both follow their `run_every` fragments as a browser
would until the run is over. Then each reruns its (no longer polling) fragment --idle times, as a
late timer would: the run has no new event, so these reruns should send next to nothing.

    CNN_LAB_DATA_DIR=/work/shared/data python bench/live_view_bench.py [--idle 10] [--json out.json]

Per phase and visitor: fragment reruns, median / p90 bytes and server seconds (request →
script_finished, loopback), and exceptions shown. Timing figures depend on the machine's load:
the bench prints `os.getloadavg()` with them.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import serve  # noqa: E402
from bench.protocol_client import Session  # noqa: E402

RUN_TIMEOUT = 900.0


def stats(its) -> dict:
    b = sorted(i.bytes for i in its)
    s = sorted(i.server_s for i in its if i.server_s is not None)

    def q(v, f):
        return v[min(len(v) - 1, int(f * len(v)))] if v else None
    return {"reruns": len(its), "bytes_median": q(b, 0.5), "bytes_p90": q(b, 0.9),
            "server_s_median": None if not s else round(statistics.median(s), 4),
            "server_s_p90": None if not s else round(q(s, 0.9), 4),
            "exceptions": sum(len(i.exceptions) for i in its)}


def watch_link(s: Session) -> str | None:
    for text in s.texts("code"):
        if "watch=" in text:
            return text.split("watch=", 1)[1].strip()
    return None


async def lesson(url: str, idle: int) -> dict:
    async with Session(url) as owner, Session(url) as watcher:
        await owner.open("train")
        await owner.click(owner.widget(label="Start training"))
        await owner.follow(lambda s: watch_link(s) is not None, timeout=RUN_TIMEOUT)
        token = watch_link(owner)
        await watcher.open("train", query=f"watch={token}")
        mark = {id(s): len(s.interactions) for s in (owner, watcher)}

        async def follow(s: Session):
            return await s.follow(lambda s: s.has_text("Finished:"), timeout=RUN_TIMEOUT)
        done = await asyncio.gather(follow(owner), follow(watcher))
        out = {"finished": list(done)}
        for name, s in (("owner", owner), ("watch_link", watcher)):
            frag = [i for i in s.interactions[mark[id(s)]:] if i.kind == "fragment"]
            out[f"{name}_training"] = stats(frag)
            fid = frag[-1].target if frag else None
            start = len(s.interactions)
            for _ in range(idle if fid else 0):
                await s.rerun_fragment(fid, auto=True)
            out[f"{name}_idle"] = stats(s.interactions[start:])
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idle", type=int, default=10, help="reruns of each finished view's fragment")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoints"
        ckpt.mkdir()
        env = {"CNN_LAB_CHECKPOINT_DIR": str(ckpt), "CNN_LAB_TRAINING_WORKERS": "1"}
        with serve("streamlit_app.py", Path(tmp) / "server.log", env=env) as (url, _proc):
            result = asyncio.run(lesson(url, args.idle))
    result["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
