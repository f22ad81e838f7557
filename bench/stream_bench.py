"""Streaming overhead: the Train page's background job vs. `python -m core train`, same settings.

Three ways to train the same settings, in rotating order so background load on a shared
machine hits all of them alike:

  cli     `python -m core train` in a subprocess (its default --log-every 50, every event
          printed as a JSON line); its own "wall_seconds" (events loop start to "done") is used;
  thread  the same loop over TrainingRun.events() in a plain worker thread of this process,
          without any streaming: isolates what the job machinery itself costs;
  jobs    like the Train page: core.jobs.JobManager trains in its background thread (one step
          event every suggest_log_every(total) steps, feature maps of the probe digit after every
          epoch) while a poller thread does what the page's 1-second fragment does: copy the
          events, compute curves, smoothing and progress, build the loss, accuracy and
          feature-map Plotly figures (the page's own, core.figures.training) and serialize
          them to JSON.

Images/s = training images processed / wall seconds to the "done" event (the per-epoch test
evaluations are included and identical in all modes); "step images/s" uses the trainer's own
train_seconds (forward/backward/step only). Medians per mode are compared.

    python bench/stream_bench.py                       # fast preset, 10% of MNIST, 1 epoch, 3 rounds
    python bench/stream_bench.py --fraction 0.25 --epochs 2 --repeats 5 --threads 2
"""
from __future__ import annotations

import argparse
from functools import partial
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core import jobs, metrics, settings  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.figures.training import accuracy_figure, loss_figure, maps_image  # noqa: E402
from core.i18n import translate  # noqa: E402
from core.train import TrainingRun, config_from_preset  # noqa: E402

CLI_LOG_EVERY = 50  # `python -m core train` default
T = partial(translate, "en")


def images_done(done: dict, train_size: int, batch: int, epochs: int) -> int:
    return min(done["steps"] * batch, train_size * epochs)


def run_cli(args, config, data_dir) -> dict:
    """`python -m core train` in its own process; the figures are the ones it prints."""
    cmd = [sys.executable, "-m", "core", "train", "--preset", args.preset, "--dataset", args.dataset,
           "--fraction", str(args.fraction), "--epochs", str(args.epochs), "--seed", str(args.seed),
           "--batch-size", str(config.batch_size)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    start, done = lines[0], lines[-1]
    n = images_done(done, start["train_size"], config.batch_size, config.epochs)
    return {"wall": done["wall_seconds"], "images": n, "train_seconds": done["train_seconds"],
            "test_accuracy": done["test_accuracy"], "events": len(lines), "polls": 0}


def run_thread(config, data) -> dict:
    """The command line's loop (every event a JSON line, to a null sink) in a worker thread."""
    out = {}

    def work():
        with open(os.devnull, "w") as sink:
            run = TrainingRun(config, data)
            t0 = time.perf_counter()
            for event in run.events():
                sink.write(json.dumps(event) + "\n")
            out["wall"] = time.perf_counter() - t0
            out["history"] = run.history

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    start, done = out["history"][0], out["history"][-1]
    n = images_done(done, start["train_size"], config.batch_size, config.epochs)
    return {"wall": out["wall"], "images": n, "train_seconds": done["train_seconds"],
            "test_accuracy": done["test_accuracy"], "events": len(out["history"]), "polls": 0}


def page_poll(job: jobs.Job) -> int:
    """One refresh of the Train page's live fragment, minus the websocket: returns the bytes of its
    figures (JSON) and feature-map picture (PNG).

    The figures are the page's own (core.figures.training), in English."""
    events = job.events()
    p = metrics.progress(events, job.elapsed())
    c = metrics.curves(events)
    size = len(loss_figure(c, p.total_steps, T).to_json()) + len(accuracy_figure(c, p.total_steps, T).to_json())
    snaps = job.snapshots()
    if snaps:
        size += len(maps_image(snaps[-1].layers[0].maps))   # a PNG since issue 22
    return size


def run_jobs(config, data, poll_seconds: float) -> dict:
    """The web app's path: JobManager thread + a poller at the page's refresh rate."""
    manager = jobs.JobManager(max_jobs=1, max_epochs=10_000)
    t0 = time.perf_counter()
    job = manager.start("bench", config, data)
    polls, poll_cpu, stop = [0], [0.0], threading.Event()

    def poller():
        while not stop.wait(poll_seconds):
            c0 = time.thread_time()
            page_poll(job)
            poll_cpu[0] += time.thread_time() - c0
            polls[0] += 1

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    job.wait()
    wall = (job.finished_at or time.perf_counter()) - t0
    stop.set()
    thread.join()
    if job.error:
        raise RuntimeError(job.error)
    done, start = job.done_event(), job.events()[0]
    n = images_done(done, start["train_size"], config.batch_size, config.epochs)
    return {"wall": wall, "images": n, "train_seconds": done["train_seconds"],
            "test_accuracy": done["test_accuracy"], "events": job.event_count(), "polls": polls[0],
            "poll_cpu_ms": 1000 * poll_cpu[0] / max(polls[0], 1), "snapshots": len(job.snapshots())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="direct/jobs pairs (alternating)")
    ap.add_argument("--poll-seconds", type=float, default=1.0, help="the page's refresh interval")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--data-dir", default=settings.text(settings.DATA_DIR)
                    or (str(ROOT.parent / "shared" / "data") if (ROOT.parent / "shared" / "data").is_dir() else None))
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset, args.data_dir, progress=False)

    def config(log_every):
        return config_from_preset(args.preset, dataset=args.dataset, fraction=args.fraction,
                                  epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                                  log_every=log_every)

    n_train = max(1, round(len(data.train_labels) * args.fraction))
    batch = config(1).batch_size
    page_log_every = metrics.suggest_log_every(-(-n_train // batch) * args.epochs)
    print(f"{args.preset} on {args.fraction:g} of {args.dataset} ({n_train} images), {args.epochs} epoch(s), "
          f"batch {batch}, torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs; step events every "
          f"{CLI_LOG_EVERY} steps (cli, thread) / {page_log_every} (jobs); page poll every {args.poll_seconds:g} s")
    run_thread(config(CLI_LOG_EVERY), data)  # warm-up: allocator, kernels, lazy imports
    warm = jobs.JobManager(max_jobs=1).start("warm", config(page_log_every), data)
    warm.wait()
    page_poll(warm)

    modes = ("cli", "thread", "jobs")
    results = {m: [] for m in modes}
    for i in range(args.repeats):
        for mode in modes[i % 3:] + modes[:i % 3]:
            if mode == "cli":
                r = run_cli(args, config(CLI_LOG_EVERY), args.data_dir)
            elif mode == "thread":
                r = run_thread(config(CLI_LOG_EVERY), data)
            else:
                r = run_jobs(config(page_log_every), data, args.poll_seconds)
            r["images_per_second"] = r["images"] / r["wall"]
            r["step_images_per_second"] = r["images"] / r["train_seconds"]
            results[mode].append(r)
            print(f"  {mode:6s} #{i + 1}: {r['images_per_second']:8.1f} images/s "
                  f"(wall {r['wall']:.2f} s, steps {r['step_images_per_second']:.1f} images/s, "
                  f"{r['events']} events, {r['polls']} polls, test acc {r['test_accuracy']:.4f})")

    med = {m: statistics.median(r["images_per_second"] for r in rs) for m, rs in results.items()}
    med_step = {m: statistics.median(r["step_images_per_second"] for r in rs) for m, rs in results.items()}
    best = {m: max(r["images_per_second"] for r in rs) for m, rs in results.items()}  # least disturbed run
    def slower(base, other, table):  # how much slower `other` trains than `base`, in percent
        return 100 * (table[base] - table[other]) / table[base]

    # Per round (the three runs back to back, so under similar background load): jobs vs the others.
    paired = {base: statistics.median(100 * (1 - results["jobs"][i]["images_per_second"]
                                             / results[base][i]["images_per_second"])
                                      for i in range(args.repeats)) for base in ("cli", "thread")}
    overhead = {"vs_cli": slower("cli", "jobs", med), "vs_thread": slower("thread", "jobs", med),
                "vs_cli_paired": paired["cli"], "vs_thread_paired": paired["thread"],
                "vs_cli_steps": slower("cli", "jobs", med_step),
                "vs_thread_steps": slower("thread", "jobs", med_step),
                "vs_cli_best": slower("cli", "jobs", best), "vs_thread_best": slower("thread", "jobs", best)}
    print(f"medians of {args.repeats} (best run in brackets):")
    print(f"python -m core train:        {med['cli']:8.1f} images/s  [{best['cli']:.1f}]  (steps {med_step['cli']:.1f})")
    print(f"same loop, worker thread:    {med['thread']:8.1f} images/s  [{best['thread']:.1f}]  "
          f"(steps {med_step['thread']:.1f})")
    print(f"Train page job + polling:    {med['jobs']:8.1f} images/s  [{best['jobs']:.1f}]  (steps {med_step['jobs']:.1f})")
    print(f"streaming overhead vs CLI:   {overhead['vs_cli']:+.1f}%  (target ≤ 10%; step time only "
          f"{overhead['vs_cli_steps']:+.1f}%)")
    print(f"  vs the same worker thread: {overhead['vs_thread']:+.1f}%  (step time only "
          f"{overhead['vs_thread_steps']:+.1f}%)")
    print(f"  best runs: {overhead['vs_cli_best']:+.1f}% vs CLI, {overhead['vs_thread_best']:+.1f}% vs worker thread")
    print(f"  median of per-round differences: {paired['cli']:+.1f}% vs CLI, {paired['thread']:+.1f}% vs worker thread")
    poll_ms = statistics.median(r["poll_cpu_ms"] for r in results["jobs"])
    print(f"one page refresh costs {poll_ms:.1f} ms of CPU ({poll_ms / (10 * args.poll_seconds):.1f}% of one "
          f"core at one refresh per {args.poll_seconds:g} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "median_images_per_second": med,
                                         "median_step_images_per_second": med_step,
                                         "best_images_per_second": best,
                                         "overhead_percent": overhead, "runs": results}, indent=2))
    return 0 if overhead["vs_cli"] <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
