"""Robustness benchmark: MNIST test digits as people actually hand them to the Predict page.

Each test digit is turned into an image file by every transform in bench/transforms.py (tight
crops, tiny images blown up, thick and thin strokes, dark ink on paper, a JPEG photo of paper
under uneven light, a small digit off-centre, rotation, a transparent canvas), written to a
temporary folder and read back the way `python -m core predict` reads a file
(core.images.load_image_bytes → core.preprocess.preprocess → the model). Accuracy is printed per
transform for the bundled model and for the fast preset trained here (seed 0, ≈ 6–10 s), with
plain MNIST test accuracy (the 28×28 tensors, no preprocessing) as the reference row.

    python bench/robustness_bench.py                          # 2,000 digits, both models
    python bench/robustness_bench.py --before 'ca4a53a^' --before ca4a53a
                                                              # also the preprocessing of those commits
    python bench/robustness_bench.py --count 500 --no-fast    # quicker

Targets (issue 14), bundled model: every transform ≥ 97% except the 8×8 crop (≥ 93%), and the
mean over transforms ≥ 98.5%. Writes JSON to bench/results/robustness.json (or --json); the run
quoted in the README is kept as bench/results/robustness-2026-11-30.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.transforms import SEED, TRANSFORMS, pick_digits, predict_files, write_files  # noqa: E402
from core.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.preprocess import preprocess as current_preprocess  # noqa: E402
from core.train import TrainingRun, config_from_preset  # noqa: E402

TARGET_EACH, TARGET_MEAN = 97.0, 98.5
TARGET_OVERRIDES = {"tight 8×8 → 64": 93.0}
REFERENCE = "MNIST test set (28×28 tensors)"


def preprocess_at(rev: str):
    """`preprocess` from core/preprocess.py as it was at git revision `rev`."""
    source = subprocess.run(["git", "show", f"{rev}:core/preprocess.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    name = f"preprocess_at_{abs(hash(rev))}"
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module.preprocess


def train_fast(data, seed: int = 0):
    run = TrainingRun(config_from_preset("fast", seed=seed, eval_each_epoch=False), data)
    t0 = time.perf_counter()
    done = [e for e in run.events() if e["event"] == "done"][-1]
    return run.model.to("cpu").eval(), done["train_seconds"], time.perf_counter() - t0


def test_accuracy(model, data) -> float:
    with torch.no_grad():
        x = data.normalized(data.test_images)
        preds = torch.cat([model(x[i:i + 2000]).argmax(1) for i in range(0, len(x), 2000)])
    return float((preds == data.test_labels).float().mean()) * 100


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="test digits per transform (default 2000)")
    ap.add_argument("--seed", type=int, default=SEED, help="which digits and random choices (default 0)")
    ap.add_argument("--before", action="append", default=[], metavar="REV",
                    help="also measure core/preprocess.py as of this git revision (repeatable)")
    ap.add_argument("--no-fast", action="store_true", help="skip training and measuring the fast preset")
    ap.add_argument("--only", nargs="+", choices=list(TRANSFORMS), help="just these transforms")
    ap.add_argument("--data-dir", default=None, help="MNIST folder (default $CNN_LAB_DATA_DIR)")
    ap.add_argument("--json", type=Path, default=None, help="where to write the results")
    args = ap.parse_args(argv)

    data = load_dataset("mnist", args.data_dir, progress=False)
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    indices = pick_digits(len(labels), args.count, args.seed)
    bundled = load_checkpoint(DEFAULT_CHECKPOINT)
    models = {"bundled": (bundled.model, bundled.mean, bundled.std)}
    fast_info = None
    if not args.no_fast:
        model, train_s, wall_s = train_fast(data)
        models["fast"] = (model, data.info.mean, data.info.std)
        fast_info = {"seed": 0, "train_seconds": round(train_s, 2), "wall_seconds": round(wall_s, 2)}
        print(f"fast preset trained (seed 0): {train_s:.1f} s of training, {wall_s:.1f} s in all", file=sys.stderr)
    versions = {"now": current_preprocess}
    versions.update({rev: preprocess_at(rev) for rev in args.before})
    columns = [(m, v) for m in models for v in versions]

    names = args.only or list(TRANSFORMS)
    rows: dict[str, dict[str, float]] = {}
    reference = {m: test_accuracy(models[m][0], data) for m in models}
    with tempfile.TemporaryDirectory(prefix="robustness-") as tmp:
        for k, name in enumerate(names):
            t0 = time.perf_counter()
            paths = write_files(name, images, indices, Path(tmp) / f"t{k}", args.seed)
            rows[name] = {}
            for m, v in columns:
                model, mean, std = models[m]
                preds = predict_files(paths, model, mean, std, versions[v])
                rows[name][f"{m} {v}"] = round(float(np.mean(preds == labels[indices])) * 100, 2)
            print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    headers = [f"{m} {v}" for m, v in columns]
    width = max(len(n) for n in [*names, REFERENCE]) + 2
    print(f"{len(indices)} MNIST test digits per transform (seed {args.seed}); accuracy %")
    print("transform".ljust(width) + "".join(h.rjust(max(len(h) + 2, 9)) for h in headers))
    print("-" * (width + sum(max(len(h) + 2, 9) for h in headers)))
    print(REFERENCE.ljust(width) + "".join(f"{reference[m]:.2f}".rjust(max(len(f'{m} {v}') + 2, 9))
                                           for m, v in columns))
    for name in names:
        print(name.ljust(width) + "".join(f"{rows[name][h]:.2f}".rjust(max(len(h) + 2, 9)) for h in headers))
    means = {h: round(float(np.mean([rows[n][h] for n in names])), 2) for h in headers}
    print("mean over transforms".ljust(width) + "".join(f"{means[h]:.2f}".rjust(max(len(h) + 2, 9)) for h in headers))

    misses = [f"{n} {rows[n]['bundled now']:.2f}% < {TARGET_OVERRIDES.get(n, TARGET_EACH)}%"
              for n in names if rows[n]["bundled now"] < TARGET_OVERRIDES.get(n, TARGET_EACH)]
    if means["bundled now"] < TARGET_MEAN:
        misses.append(f"mean {means['bundled now']:.2f}% < {TARGET_MEAN}%")
    print("targets (bundled, now): " + ("all met" if not misses else "missed: " + "; ".join(misses)))

    out = args.json or ROOT / "bench" / "results" / "robustness.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads()},
        "count": len(indices), "seed": args.seed, "checkpoint": DEFAULT_CHECKPOINT.name,
        "fast_preset": fast_info, "preprocess_versions": list(versions),
        "reference_test_accuracy": reference,
        "transforms": {n: {"describe": TRANSFORMS[n].describe, "accuracy": rows[n]} for n in names},
        "mean_over_transforms": means,
        "targets": {"each": TARGET_EACH, "mean": TARGET_MEAN, "overrides": TARGET_OVERRIDES},
        "missed": misses,
    }, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
