"""Two app servers, one class (issue 21): run inside a private network namespace, loopback only —

    unshare --net sh -c 'ip link set lo up; python tests/two_server_checks.py --data-dir DIR --tmp DIR'

One local Ray cluster (`ray start --head` on 127.0.0.1, token authentication with a token of its
own) and two `streamlit run` servers A and B with CNN_LAB_SHARED_QUEUE=ray on one checkpoint folder
(workspaces, the link key, the gallery); the queue and the run registry live in the class hub actor
(core.jobs.class_hub). Browserless visitors (bench/protocol_client.py) drive the real pages:

  1. a learner on A starts a run on the Train page and reads its watch link and private link;
  2. a watcher opens the watch link on B and sees the progress line change (live, fed by B's
     proxy from the hub's events);
  3. the teacher unlocks the Class page on B and presses Stop for that run; the learner's page on
     A and the watcher on B both say the teacher stopped it;
  4. the teacher on B adds the run to the class gallery (the model comes from the hub); A's
     Predict page offers it (the gallery is files in the shared checkpoint folder);
  5. server A is killed with SIGKILL; the learner's private link, opened on B, brings the run back,
     and a third process (a plain HubManager, like a third app server) still lists it.

Prints one JSON line per check ({"check": name, ...}); tests/test_two_servers.py asserts on them.
Every wait is bounded.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.protocol_client import Session  # noqa: E402
from bench.server import free_port, serve  # noqa: E402

TEACHER_KEY = "two-servers-key"
RAY = str(Path(sys.executable).with_name("ray"))
FOLLOW_S = 240


def emit(check: str, **facts) -> None:
    print(json.dumps({"check": check, **facts}), flush=True)


def start_ray(env: dict, port: int, log: Path) -> None:
    cmd = [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
           "--include-dashboard=false", "--disable-usage-stats"]
    with open(log, "w") as out:
        subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=240)


def progress_lines(s: Session) -> list[str]:
    return [t for t in s.texts() if t.startswith("Epoch ") and " · step " in t]


def teacher_stopped(s: Session) -> bool:
    return s.has_text("The teacher stopped this run.")


async def scenario(url_a: str, url_b: str, proc_a) -> dict:
    facts: dict = {}
    async with Session(url_a) as learner, Session(url_b) as watcher, Session(url_b) as teacher:
        # 1. the learner on A starts a run that cannot end before the teacher's Stop, even on a
        # fast machine: 5 epochs of all of MNIST, 20 s at 15,000 images/s (5 epochs of the fast
        # preset's 10% took 2 s on a quiet machine: the watcher saw only its last line), yet far
        # inside the server's run cap when a busy machine's probe reads a slow rate
        await learner.open("train")
        await learner.set_value(learner.widget(key="train.epochs"), 5)
        await learner.set_value(learner.widget(key="train.fraction"), "100%")
        await learner.click(learner.widget(key="train.start"))
        got_links = await learner.follow(
            lambda s: any("?watch=" in t for t in s.texts("code"))
            and any("?ws=" in t for t in s.texts("code")) and bool(progress_lines(s)), FOLLOW_S)
        codes = learner.texts("code")
        watch = next((t for t in codes if "?watch=" in t), "")
        private = next((t for t in codes if "?ws=" in t), "")
        facts["a_started"] = got_links
        facts["a_alerts"] = learner.texts("alert")[:4]   # why not, when it did not
        facts["a_exceptions"] = [e for it in learner.interactions for e in it.exceptions]
        token = watch.split("?watch=", 1)[-1].split("&")[0].strip()
        secret = private.split("?ws=", 1)[-1].split("&")[0].strip()

        # 2. the watcher on B follows the watch link live
        await watcher.open("train", f"watch={token}")
        seen: set[str] = set()

        def two_progress_lines(s: Session) -> bool:
            seen.update(progress_lines(s))
            return len(seen) >= 2

        facts["b_watch_live"] = await watcher.follow(two_progress_lines, FOLLOW_S)
        facts["b_watch_lines"] = sorted(seen)[:4]
        facts["b_watch_read_only"] = not watcher.find(key="train.stop")

        # 3. the teacher on B stops it
        await teacher.open("class")
        await teacher.set_value(teacher.widget(label="Teacher key"), TEACHER_KEY)
        await teacher.click(teacher.widget(label="Unlock"))
        stop = teacher.find(key="class.stop")
        facts["b_teacher_has_stop"] = len(stop) == 1
        if stop:
            await teacher.click(stop[0])
        facts["b_watch_says_teacher_stopped"] = await watcher.follow(teacher_stopped, FOLLOW_S)
        facts["a_learner_says_teacher_stopped"] = await learner.follow(teacher_stopped, FOLLOW_S)
        # 4. the teacher on B puts the run in the class gallery; A's Predict page offers it
        facts["b_teacher_can_publish"] = await teacher.follow(lambda s: len(s.find(key="class.add")) == 1,
                                                              FOLLOW_S)
        if facts["b_teacher_can_publish"]:
            await teacher.set_value(teacher.widget(label="Name shown in the gallery"), "Ada")
            await teacher.click(teacher.widget(key="class.add"))
        await learner.open("predict")
        options = [o for n in learner.find(kind="selectbox") for o in n.proto.options]
        facts["a_predict_offers_gallery_model"] = any("by Ada" in o and "class gallery" in o for o in options)
        facts["a_predict_options"] = options[:6]
        facts["b_exceptions"] = [e for s in (watcher, teacher) for it in s.interactions for e in it.exceptions]
        facts["a_exceptions"] += [e for it in learner.interactions for e in it.exceptions]

    # 5. server A dies; B still has everything
    proc_a.send_signal(signal.SIGKILL)
    proc_a.wait(30)
    facts["a_killed"] = proc_a.returncode == -signal.SIGKILL
    async with Session(url_b) as owner_on_b:
        await owner_on_b.open("train", f"ws={secret}")
        opened = owner_on_b.find(label="Open it")
        facts["b_private_link_asks"] = len(opened) == 1
        if opened:
            await owner_on_b.click(opened[0])
        # the run is the owner's: B's Predict page offers its (unsaved) model to this session only
        await owner_on_b.open("predict")
        options = [o for n in owner_on_b.find(kind="selectbox") for o in n.proto.options]
        facts["b_private_link_shows_run"] = any(o.startswith("Run 1 ·") and "unsaved" in o for o in options)
        facts["b_private_link_options"] = options[:6]
        facts["b_private_link_exceptions"] = [e for it in owner_on_b.interactions for e in it.exceptions]
    return facts


def third_server_view(env: dict) -> dict:
    """A plain HubManager in a fresh process (as a third app server would build it): the runs it
    lists, then the same after the hub's own process is killed and Ray restarts it (the new hub
    reads the registry back)."""
    p = subprocess.run([sys.executable, __file__, "--third"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    return {"rc": p.returncode, **(json.loads(lines[-1]) if lines else {}),
            "stderr": p.stderr[-800:] if p.returncode else ""}


def measure(m, run_id: str, n: int = 50) -> dict:
    """What a page's call to the hub costs from an app server (figures for the report; nothing is
    asserted on them): the median round trip of a plain call and of a live view's tick (a sync
    that brings nothing new), and the bytes of a whole history against a tick's."""
    import pickle
    import statistics

    def median_ms(fn) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return round(statistics.median(times) * 1000, 2)

    full = m._call("sync", run_id, None, 0, None, 0)
    have, last = len(full[2]), full[2][-1]
    tick = m._call("sync", run_id, None, have, last, len(full[4]))
    return {"ping_ms": median_ms(lambda: m._call("ping")),
            "tick_ms": median_ms(lambda: m._call("sync", run_id, None, have, last, len(full[4]))),
            "board_ms": median_ms(lambda: m._call("board")),
            "full_history_bytes": len(pickle.dumps(full)), "tick_bytes": len(pickle.dumps(tick)),
            "events": have, "snapshots": len(full[4])}


def third() -> None:
    from core.jobs.hub_proxy import HubManager
    from core.jobs.states import BackendError

    def runs(m):
        return [dict(state=j.state, stopped=j.stopped, by_teacher=j.stopped_by_teacher, id=j.id,
                     has_model=j.model is not None, events=len(j.events())) for j in m.all_jobs()]

    m = HubManager()
    before, first_pid = runs(m), m._call("ping")["pid"]
    figures = measure(m, before[0]["id"]) if before else {}
    m._ray.kill(m._hub, no_restart=False)          # the hub's process dies; Ray starts it again
    deadline, after = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        try:
            facts = m._call("ping")
            if facts["pid"] != first_pid:
                after = runs(HubManager())     # a fresh proxy: nothing cached in this process
                break
        except BackendError:
            pass
        time.sleep(0.5)
    print(json.dumps({"runs": before, "after_hub_restart": after, "figures": figures,
                      "restored": facts.get("restored") if after is not None else None}), flush=True)
    m.end_hub()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir")
    ap.add_argument("--tmp")
    ap.add_argument("--third", action="store_true", help="(internal) the third process's checks")
    args = ap.parse_args()
    if args.third:
        third()
        return 0
    tmp = Path(args.tmp)
    (tmp / "checkpoints").mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           # a token of this test's own (never the machine's ~/.ray one)
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_ADDRESS": f"127.0.0.1:{port}", "CNN_LAB_SHARED_QUEUE": "ray",
           "CNN_LAB_CLASS_HUB": "two-servers-" + secrets.token_hex(3),
           "CNN_LAB_CHECKPOINT_DIR": str(tmp / "checkpoints"), "CNN_LAB_RUN_REGISTRY": str(tmp / "hub-runs"),
           "CNN_LAB_DATA_DIR": args.data_dir, "CNN_LAB_TEACHER_KEY": TEACHER_KEY,
           "CNN_LAB_TRAINING_WORKERS": "1", "CNN_LAB_RAY_THREADS": "1", "CNN_LAB_MAX_RUN_SECONDS": "3600"}
    t0 = time.monotonic()
    start_ray(env, port, tmp / "ray.log")
    emit("cluster", seconds=round(time.monotonic() - t0, 1))
    try:
        with ExitStack() as stack:
            url_a, proc_a = stack.enter_context(serve("streamlit_app.py", tmp / "a.log", env=env))
            url_b, _ = stack.enter_context(serve("streamlit_app.py", tmp / "b.log", env=env))
            t1 = time.monotonic()
            facts = asyncio.run(asyncio.wait_for(scenario(url_a, url_b, proc_a), 900))
            emit("two_servers", seconds=round(time.monotonic() - t1, 1), **facts)
        emit("third_server", **third_server_view(env))
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
