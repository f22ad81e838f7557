"""Few-shot bench: how well a CNN learns new classes from a handful of examples, from scratch
and by transfer (core.transfer), with the recipe the app uses for your own classes
(core.userdata.train_config). No new download: MNIST only.

1. A base model (the fast preset's architecture, 5 outputs) is trained once on digits 0–4.
2. For k = 5, 10, 20, 50 examples of each of the digits 5–9 (drawn from the training set, one draw
   per seed), three learners train on those 5k examples:
     scratch         random initial weights
     transfer-frozen the base model's convolutions copied and kept fixed; only the classifier learns
     transfer-tuned  the base model's convolutions copied and fine-tuned with everything else
   and are tested on every test-set image of 5–9 (≈ 4,860). The bench trains on all k examples of
   a class: the app keeps 20% of them aside for validation, which the bench replaces by the test set.
3. The time a learner waits at k = 20: a whole app-like run (20% validation split, evaluation
   every epoch), wall clock, one torch thread.

Targets (issue 20): transfer ≥ 90% at k = 10 and ≥ 96% at k = 50; transfer beats scratch at every
k ≤ 20; ≤ 15 s to train at k = 20.

    CNN_LAB_DATA_DIR=/work/shared/data python bench/fewshot_bench.py            # 5 seeds (≈ 5 min)
    CNN_LAB_DATA_DIR=/work/shared/data python bench/fewshot_bench.py --seeds 2 --ks 10 20

Prints a table (mean ± std over seeds) and writes JSON (default bench/results/fewshot_bench.json).
The base model is cached in bench/results/fewshot-base.safetensors (not committed; --retrain-base).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.checkpoint import load_checkpoint, make_metadata, save_checkpoint  # noqa: E402
from core.data import Dataset, custom_info, load_dataset  # noqa: E402
from core.train import TrainingRun, config_from_preset  # noqa: E402
from core.transfer import transfer_spec  # noqa: E402
from core.userdata import UserDataset, make_dataset, train_config  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BASE_PATH = RESULTS / "fewshot-base.safetensors"
OLD, NEW = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
LEARNERS = ("scratch", "transfer-frozen", "transfer-tuned")
TARGETS = {10: 0.90, 50: 0.96}
WAIT_K, WAIT_LIMIT_S = 20, 15.0


def subset(images, labels, digits):
    """The images of `digits`, labels renumbered 0..len(digits)-1."""
    keep = torch.isin(labels, torch.tensor(digits))
    remap = torch.full((10,), -1, dtype=torch.long)
    remap[list(digits)] = torch.arange(len(digits))
    return images[keep], remap[labels[keep]]


def train_base(mnist, epochs: int, seed: int = 0) -> Path:
    x, y = subset(mnist.train_images, mnist.train_labels, OLD)
    xt, yt = subset(mnist.test_images, mnist.test_labels, OLD)
    data = Dataset(custom_info([str(d) for d in OLD]), x, y, xt, yt)
    base = config_from_preset("fast")
    config = replace(base, spec=transfer_spec(base.spec, len(OLD)), dataset="custom",
                     classes=[str(d) for d in OLD], epochs=epochs, augment=True, calibration_holdout=0,
                     seed=seed, eval_each_epoch=False)
    run = TrainingRun(config, data)
    done = [e for e in run.events() if e["event"] == "done"][0]
    meta = make_metadata(config.spec, "custom", config.to_dict(), name="digits 0-4 (few-shot bench base)",
                         metrics={"test_accuracy": done["test_accuracy"]})
    RESULTS.mkdir(parents=True, exist_ok=True)
    save_checkpoint(BASE_PATH, run.model, meta, overwrite=True)
    print(f"base model on digits 0–4: {100 * done['test_accuracy']:.2f}% test accuracy, "
          f"{done['train_seconds']:.1f} s training", flush=True)
    return BASE_PATH


def draw(mnist, k: int, seed: int):
    """k training images of each of 5–9 (a seeded draw), labels 0..4."""
    g = torch.Generator().manual_seed(1000 + seed)
    xs, ys = [], []
    for label, digit in enumerate(NEW):
        idx = torch.nonzero(mnist.train_labels == digit).flatten()
        pick = idx[torch.randperm(len(idx), generator=g)[:k]]
        xs.append(mnist.train_images[pick])
        ys.append(torch.full((k,), label, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)


def learner_config(name: str, data: UserDataset, base_path: Path, base_spec, seed: int):
    if name == "scratch":
        # The same architecture (the base's), random weights.
        return train_config(data, source_spec=base_spec, seed=seed)
    return train_config(data, init_from=str(base_path), init_name="digits 0-4", source_spec=base_spec,
                        freeze=name == "transfer-frozen", seed=seed)


def few_shot_run(mnist, k, seed, learner, base_path, base_spec, test):
    x, y = draw(mnist, k, seed)
    classes = [str(d) for d in NEW]
    # The config is the app's for k examples per class; the bench trains on all of them and tests
    # on the whole test set of 5–9 instead of a validation slice.
    data = UserDataset(custom_info(classes), x, y, test[0], test[1], (k,) * 5, (0,) * 5)
    config = learner_config(learner, data, base_path, base_spec, seed)
    config = replace(config, eval_each_epoch=False)
    run = TrainingRun(config, data)
    done = [e for e in run.events() if e["event"] == "done"][0]
    return done["test_accuracy"], done["train_seconds"], config


def wait_time(mnist, seed, learner, base_path, base_spec) -> float:
    """Wall seconds of a whole app-like run at k = WAIT_K: split, model, epochs with validation."""
    x, y = draw(mnist, WAIT_K, seed)
    t0 = time.perf_counter()
    data = make_dataset([str(d) for d in NEW], x.numpy(), y.numpy(), seed=seed)
    run = TrainingRun(learner_config(learner, data, base_path, base_spec, seed), data)
    for _ in run.events():
        pass
    return time.perf_counter() - t0


def fmt(values):
    m = statistics.mean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * m:5.1f} ± {100 * s:3.1f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ks", type=int, nargs="+", default=[5, 10, 20, 50])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=LEARNERS)
    p.add_argument("--base-epochs", type=int, default=2)
    p.add_argument("--retrain-base", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: leave a core free)")
    p.add_argument("--data-dir")
    p.add_argument("--output", type=Path, default=RESULTS / "fewshot_bench.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    mnist = load_dataset("mnist", args.data_dir, progress=False)
    if args.retrain_base or not BASE_PATH.exists():
        train_base(mnist, args.base_epochs)
    base = load_checkpoint(BASE_PATH)
    base_spec = base.spec
    test = subset(mnist.test_images, mnist.test_labels, NEW)
    print(f"base: {base.meta['metrics'].get('test_accuracy', 0) * 100:.2f}% on digits 0–4; "
          f"testing on {len(test[1])} test images of 5–9; {args.seeds} seeds, {args.threads} thread(s)", flush=True)
    rows = {}
    for k in args.ks:
        for learner in args.learners:
            accs, secs = [], []
            for seed in range(args.seeds):
                acc, seconds, config = few_shot_run(mnist, k, seed, learner, BASE_PATH, base_spec, test)
                accs.append(acc)
                secs.append(seconds)
            rows[(k, learner)] = {"k": k, "learner": learner, "accuracies": accs, "train_seconds": secs,
                                  "mean": statistics.mean(accs),
                                  "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                                  "epochs": config.epochs, "batch_size": config.batch_size,
                                  "lr": config.lr, "optimizer": config.optimizer}
            print(f"k={k:3d} {learner:16s} {fmt(accs)} %  ({config.epochs} epochs × batch "
                  f"{config.batch_size}, {statistics.mean(secs):.1f} s training)", flush=True)
    waits = {learner: [wait_time(mnist, s, learner, BASE_PATH, base_spec) for s in range(min(args.seeds, 3))]
             for learner in args.learners}
    print()
    header = "k    " + "".join(f"{name:>18s}" for name in args.learners)
    print(header)
    for k in args.ks:
        print(f"{k:<5d}" + "".join(f"{fmt(rows[(k, name)]['accuracies']):>18s}" for name in args.learners))
    print("wait at k=20 (s)" + "".join(f"{statistics.mean(waits[n]):>14.1f}" for n in args.learners))
    checks = []
    for k, target in TARGETS.items():
        if k in args.ks:
            best = max(rows[(k, n)]["mean"] for n in args.learners if n != "scratch")
            checks.append((f"transfer ≥ {100 * target:.0f}% at k={k}", best >= target, f"{100 * best:.1f}%"))
    if "scratch" in args.learners:
        for k in [k for k in args.ks if k <= 20]:
            beats = {n: rows[(k, n)]["mean"] > rows[(k, 'scratch')]["mean"] for n in args.learners if n != "scratch"}
            checks.append((f"transfer beats scratch at k={k}", all(beats.values()),
                           ", ".join(f"{n} {'yes' if b else 'no'}" for n, b in beats.items())))
    slowest = max(statistics.mean(v) for v in waits.values())
    checks.append((f"≤ {WAIT_LIMIT_S:.0f} s to train at k={WAIT_K}", slowest <= WAIT_LIMIT_S, f"{slowest:.1f} s (slowest learner)"))
    print()
    for what, ok, figure in checks:
        print(f"{'PASS' if ok else 'MISS'}  {what}: {figure}")
    record = {"bench": "fewshot", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
              "threads": args.threads, "seeds": args.seeds, "base_epochs": args.base_epochs,
              "base_test_accuracy_0_4": base.meta["metrics"].get("test_accuracy"),
              "test_images_5_9": len(test[1]), "rows": list(rows.values()),
              "wait_seconds_k20": waits, "checks": [{"check": c, "pass": ok, "figure": f} for c, ok, f in checks],
              "command": "python bench/fewshot_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=1))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
