"""Training benchmark: CNN Lab's presets against the original material's recipes, side by side.

Each run is a fresh `python -m core train` process (the same code path users run), so its peak
memory (ru_maxrss via os.wait4) and its wall time are its own. Evaluation is excluded from the
training time: the figure is the "train_seconds" the trainer reports (forward/backward/step only).

    python bench/train_bench.py                    # 3 seeds, full MNIST (≈ 12–20 min on 2 cores)
    python bench/train_bench.py --quick            # smoke run: 1 seed, 5% of the data
    python bench/train_bench.py --seeds 5 --only fast accurate
    python bench/train_bench.py --only fast "ablation: fast" --first-seed 3 --seeds 5   # held-out seeds

Prints a table and writes JSON (default bench/results/train_bench.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import settings  # noqa: E402
from core.models import PRESETS  # noqa: E402  (training itself runs in child processes)

# name -> CLI arguments. The baselines are the original tutorials' recipes (000–003), each written
# out in full so that a later change to a preset cannot silently change its baseline. They train on
# all 60,000 images as the tutorials do (`--calibration-holdout 0`: no images set aside for the
# app's temperature scaling).
_TUTORIAL = ["--scheduler", "none", "--calibration-holdout", "0"]
RECIPES = {
    "fast": ["--preset", "fast"],
    "accurate": ["--preset", "accurate"],
    "baseline 000: 2-conv 16/32 → FC 128": ["--preset", "2-conv 16/32 → FC 128", "--optimizer", "adam",
                                            "--lr", "1e-3", "--batch-size", "64", "--epochs", "5", *_TUTORIAL],
    "baseline 001: 2-conv 32/64 → FC": ["--preset", "2-conv 32/64 → FC", "--optimizer", "adam",
                                        "--lr", "1e-3", "--batch-size", "100", "--epochs", "2", *_TUTORIAL],
    "baseline 002: 4-conv 5×5": ["--preset", "4-conv 5×5 16/32/32/64", "--optimizer", "adam",
                                 "--lr", "1e-3", "--batch-size", "100", "--epochs", "2", *_TUTORIAL],
    "baseline 003: 2-conv 32/64 → FC 128, SGD": ["--preset", "2-conv 32/64 → FC 128, SGD", "--optimizer",
                                                 "sgd", "--lr", "0.01", "--batch-size", "64", "--epochs",
                                                 "5", *_TUTORIAL],
}
# Test accuracy each tutorial states for its own run (001 and 002 state none).
TUTORIAL_REPORTS = {"baseline 000: 2-conv 16/32 → FC 128": 0.9880,
                    "baseline 003: 2-conv 32/64 → FC 128, SGD": 0.9896}
BASELINES = [k for k in RECIPES if k.startswith("baseline")]


# name -> (preset, how its layer list changes[, extra CLI arguments]). An ablation changes one
# thing of a preset, to measure what that thing gives (README "Performance"); it runs only when
# --only names it. The fast and accurate presets' layers: 0 conv (the stem), 1 batchnorm, 2 relu,
# 3 conv, 4 maxpool, 5 batchnorm, 6 relu, … ("conv2 stride 2" also drops the max pool that follows
# conv2: the stride does its downsampling.)
ABLATIONS = {
    "ablation: fast with a padded stem": ("fast", lambda spec: spec[0].update(padding=2)),
    "ablation: fast, unpadded conv2": ("fast", lambda spec: spec[3].update(padding=0)),
    "ablation: fast, average pooling": ("fast", lambda spec: [spec[i].update(type="avgpool") for i in (4, 8)]),
    "ablation: fast, conv2 stride 2": ("fast", lambda spec: (spec[3].update(stride=2), spec.pop(4))),
    # accurate until 2026-11-30: what its unpadded stem, 9 epochs and batch 128 replaced
    "ablation: accurate, old recipe": ("accurate", lambda spec: spec[0].update(padding=2),
                                       ["--epochs", "7", "--batch-size", "256", "--scheduler", "onecycle"]),
    # Training on all 60,000 images, as before calibration held 5,000 of them out (2026-12):
    # what the hold-out costs in accuracy.
    "ablation: fast, no calibration hold-out": ("fast", lambda spec: None, ["--calibration-holdout", "0"]),
    "ablation: accurate, no calibration hold-out": ("accurate", lambda spec: None,
                                                    ["--calibration-holdout", "0"]),
}


def ablation_spec(name: str) -> list[dict]:
    preset, edit = ABLATIONS[name][:2]
    spec = PRESETS[preset].spec()
    edit(spec)
    return spec


def ablation_args(name: str) -> list[str]:
    """The CLI arguments of an ablation's preset, then its own (later ones win in argparse)."""
    preset, _, *extra = ABLATIONS[name]
    return RECIPES[preset] + (extra[0] if extra else [])


# A fixed float32 matmul loop on all threads, run in its own process so that no torch thread pool
# lingers in this one while a recipe trains.
_SPEED_PROBE = """
import time, torch
a, b = torch.randn(512, 512), torch.randn(512, 512)
torch.mm(a, b)
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < 0.5:
    torch.mm(a, b)
    n += 1
print(n * 2 * 512 ** 3 / (time.perf_counter() - t0) / 1e9)
"""


def machine_speed() -> float:
    """GFLOP/s of `_SPEED_PROBE`: how fast this machine is right now.

    These are virtual machines: the same run can take 1.5× longer when the host is busy, and no
    counter inside the VM (load, CPU steal) shows it. Measured just before each run, this figure
    tells a slow recipe from a slow moment.
    """
    out = subprocess.run([sys.executable, "-c", _SPEED_PROBE], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def run_once(args: list[str], seed: int, data_dir: str | None, quick: bool) -> dict:
    cmd = [sys.executable, "-m", "core", "train", *args, "--seed", str(seed), "--log-every", "100000"]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    if quick:
        cmd += ["--fraction", "0.05", "--epochs", "1"]
    speed = machine_speed()
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errf:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=errf, text=True)
        out = proc.stdout.read()
        # wait4 instead of proc.wait(): it also returns this child's own peak memory (ru_maxrss).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {' '.join(cmd)}\n{err.strip()}")
    done = json.loads(out.strip().splitlines()[-1])
    done["wall_seconds"] = wall
    done["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    done["machine_gflops"] = speed
    return done


def summarize(runs: list[dict]) -> dict:
    accs = [r["test_accuracy"] for r in runs]
    secs = [r["train_seconds"] for r in runs]
    return {
        "runs": len(runs),
        "accuracy_mean": statistics.mean(accs),
        "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "error_mean": 1 - statistics.mean(accs),
        "train_seconds_median": statistics.median(secs),
        "images_per_second_median": statistics.median(r["images_per_second"] for r in runs),
        "peak_rss_mb_max": max((r["peak_rss_mb"] or 0) for r in runs),
        "machine_gflops_median": statistics.median(r["machine_gflops"] for r in runs),
        "accuracies": accs,
        "train_seconds": secs,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds run from here (choose recipes on seeds the reported table doesn't use)")
    p.add_argument("--quick", action="store_true", help="1 seed, 5%% of the data, 1 epoch: a smoke run")
    p.add_argument("--only", nargs="+", help="run only recipes whose name starts with one of these")
    p.add_argument("--data-dir", default=settings.text(settings.DATA_DIR))
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "train_bench.json")
    args = p.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds)))
    every = [*RECIPES, *ABLATIONS]
    names = [n for n in every if any(n.startswith(o) for o in args.only)] if args.only else list(RECIPES)
    if not names:
        p.error(f"--only {' '.join(args.only)} matches no recipe; recipes: {'; '.join(every)}")
    specs = {name: ablation_spec(name) for name in names if name in ABLATIONS}

    # Round-robin over seeds (seed 0 of every recipe, then seed 1, ...) rather than recipe after
    # recipe: a shared or throttled machine speeds up and slows down over minutes, and interleaving
    # spreads those phases over all recipes instead of handing them to whichever ran then.
    runs = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as spec_dir:
        cli = dict(RECIPES)
        for i, (name, spec) in enumerate(specs.items()):  # an ablation: its preset with these layers
            path = Path(spec_dir) / f"ablation{i}.json"
            path.write_text(json.dumps(spec))
            cli[name] = ablation_args(name) + ["--spec", str(path)]
        for seed in seeds:
            for name in names:
                r = run_once(cli[name], seed, args.data_dir, args.quick)
                print(f"  {name:42s} seed {seed}: {r['test_accuracy'] * 100:.2f}%  "
                      f"{r['train_seconds']:.1f} s  {r['images_per_second']:.0f} img/s  "
                      f"peak {r['peak_rss_mb']:.0f} MB"
                      f"  (machine {r['machine_gflops']:.0f} GFLOP/s)", flush=True)
                runs[name].append(r)
    results = {}
    for name in names:  # an ablation keeps its layers, not the path of its temporary spec file
        if name in ABLATIONS:
            results[name] = {"args": ablation_args(name), "spec": specs[name], **summarize(runs[name])}
        else:
            results[name] = {"args": RECIPES[name], **summarize(runs[name])}

    print()
    header = (f"{'recipe':42s} {'test acc (mean ± std)':>22s} {'tutorial says':>14s} {'train s (median)':>17s} "
              f"{'img/s':>7s} {'peak MB':>8s} {'machine GFLOP/s':>16s}")
    print(header)
    print("-" * len(header))
    for name, s in results.items():
        said = TUTORIAL_REPORTS.get(name)
        s["tutorial_reports"] = said
        said_text = f"{said * 100:.2f}%" if said else "—"
        print(f"{name:42s} {s['accuracy_mean'] * 100:>14.2f} ± {s['accuracy_std'] * 100:.2f}% {said_text:>14s} "
              f"{s['train_seconds_median']:>17.1f} {s['images_per_second_median']:>7.0f} {s['peak_rss_mb_max']:>8.0f} {s['machine_gflops_median']:>16.0f}")
    # Presets against the baselines, and each preset against its ablations (what the change gives).
    pairs = [(name, base) for name in results if name not in BASELINES and name not in ABLATIONS
             for base in BASELINES]
    pairs += [(ABLATIONS[name][0], name) for name in results if name in ABLATIONS]
    ratios = {}
    for name, base in pairs:
        if name in results and base in results:
            b, s = results[base], results[name]
            ratios[f"{name} vs {base}"] = {
                "time_ratio": s["train_seconds_median"] / b["train_seconds_median"],
                "error_ratio": s["error_mean"] / b["error_mean"] if b["error_mean"] else None,
            }
    if ratios:
        print("\nratios (preset / baseline or ablation; below 1 is better):")
        for k, v in ratios.items():
            er = f"{v['error_ratio']:.2f}" if v["error_ratio"] is not None else "n/a"
            print(f"  {k}: time ×{v['time_ratio']:.2f}, error rate ×{er}")
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "quick": args.quick, "seeds": seeds, "results": results, "ratios": ratios}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nmachine: {report['machine']}\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
