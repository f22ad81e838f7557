"""Command line: `python -m core train|evaluate|predict …`.

Every command prints JSON lines on stdout; a bad argument or unreadable file prints one line on
stderr and exits with code 2.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from core.checkpoint import CheckpointError, load_checkpoint, make_metadata, save_checkpoint
from core.data import DATASETS, DataError, get_info, load_dataset
from core.models import PRESETS, SpecError
from core.train import (OPTIMIZERS, SCHEDULERS, ConfigError, TrainConfig, TrainingRun, check_config,
                        config_from_preset, evaluate)


class UsageError(Exception):
    """Bad input from the person at the terminal: one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints usage; we keep to one line
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m core", description="CNN Lab command line.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train a model, print one JSON event per line")
    t.add_argument("--preset", default="fast", help=f"one of: {', '.join(PRESETS)}")
    t.add_argument("--spec", type=Path, help="JSON file with a layer list (overrides --preset's layers)")
    t.add_argument("--dataset", default="mnist", choices=list(DATASETS))
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--scheduler", choices=SCHEDULERS)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--label-smoothing", type=float)
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    t.add_argument("--fraction", type=float, default=1.0, help="share of the training set (e.g. 0.1)")
    t.add_argument("--calibration-holdout", type=int,
                   help="training images held out to fit the softmax temperature (default 5000, 0: none)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    t.add_argument("--log-every", type=int, default=50, help="steps between step events")
    t.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    t.add_argument("--data-dir", help="folder with <Name>/raw/*-ubyte.gz (else $CNN_LAB_DATA_DIR or download)")
    t.add_argument("--output", type=Path, help="save the trained model to this .safetensors file")
    t.add_argument("--name", help="model name stored in the checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace --output if it exists")

    e = sub.add_parser("evaluate", help="test-set accuracy and calibration error of a checkpoint")
    e.add_argument("--checkpoint", required=True, type=Path)
    e.add_argument("--data-dir")

    r = sub.add_parser("predict", help="classify image files with the app's preprocessing")
    r.add_argument("images", nargs="+", type=Path)
    r.add_argument("--checkpoint", type=Path, default=Path(__file__).resolve().parent.parent
                   / "checkpoints" / "mnist-default.safetensors")
    r.add_argument("--raw", action="store_true",
                   help="report the raw softmax instead of the calibrated (temperature-scaled) one")
    return p


def emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def make_config(args) -> TrainConfig:
    overrides = dict(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                     optimizer=args.optimizer, scheduler=args.scheduler, weight_decay=args.weight_decay,
                     label_smoothing=args.label_smoothing, augment=args.augment,
                     fraction=args.fraction, seed=args.seed, device=args.device,
                     log_every=args.log_every, calibration_holdout=args.calibration_holdout)
    config = config_from_preset(args.preset, **overrides)
    if args.spec:
        try:
            config.spec = json.loads(args.spec.read_text(encoding="utf-8"))
        except OSError as e:
            raise UsageError(f"cannot read spec file {args.spec}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise UsageError(f"{args.spec} is not valid JSON ({e.msg} at line {e.lineno})") from None
        config.preset = None
    return config


def cmd_train(args, argv=None) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    config = make_config(args)
    if args.output and args.output.exists() and not args.overwrite:
        raise UsageError(f"{args.output} already exists; pass --overwrite or choose another --output")
    # Settings are checked before the (possibly slow) dataset load, so mistakes fail fast.
    check_config(config, len(get_info(config.dataset).classes))
    data = load_dataset(config.dataset, args.data_dir)
    run = TrainingRun(config, data)
    t0 = time.perf_counter()
    for event in run.events():
        if event["event"] == "done":
            event["wall_seconds"] = time.perf_counter() - t0
            if args.output:
                meta = make_metadata(
                    config.spec, config.dataset, config.to_dict(),
                    metrics={k: event[k] for k in ("test_accuracy", "test_loss", "train_seconds", "steps")},
                    history=[e for e in run.history if e["event"] in ("step", "epoch")],
                    name=args.name or args.output.stem,
                    recipe="python -m core " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
                    torch_version=torch.__version__,
                    calibration=event["calibration"],
                )
                event["checkpoint"] = str(save_checkpoint(args.output, run.model, meta, args.overwrite))
        emit(event)
    return 0


def cmd_evaluate(args) -> int:
    from core.calibration import N_BINS, calibration_report, temperature_from_meta

    ckpt = load_checkpoint(args.checkpoint)
    data = load_dataset(ckpt.dataset, args.data_dir)
    result = evaluate(ckpt.model, data.normalized(data.test_images), data.test_labels,
                      num_classes=len(ckpt.classes))
    # The temperature comes from the checkpoint (fitted on held-out training images when it was
    # trained); the test set is only measured. An old checkpoint without one reports T = 1.
    temperature = temperature_from_meta(ckpt.meta)
    report = calibration_report(result.logits, result.labels, temperature)
    emit({"accuracy": result.accuracy, "loss": result.loss, "n": result.n,
          "temperature": temperature, "ece_bins": N_BINS,
          "ece_raw": report["ece_raw"], "ece_calibrated": report["ece_calibrated"],
          "loss_calibrated": report["nll_calibrated"],
          "checkpoint": str(args.checkpoint), "dataset": ckpt.dataset})
    return 0


def cmd_predict(args) -> int:
    import torch

    from core.calibration import temperature_from_meta
    from core.images import ImageError, load_image_bytes
    from core.preprocess import preprocess

    ckpt = load_checkpoint(args.checkpoint)
    temperature = 1.0 if args.raw else temperature_from_meta(ckpt.meta)
    status = 0
    for path in args.images:
        try:
            image = load_image_bytes(path.read_bytes())
        except OSError as e:
            print(f"error: cannot read {path}: {e.strerror}", file=sys.stderr)
            status = 2
            continue
        except ImageError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            status = 2
            continue
        prep = preprocess(image, ckpt.mean, ckpt.std)
        if prep.blank:
            emit({"file": str(path), "digit": None, "reason": "nothing drawn: the image has no ink"})
            continue
        with torch.no_grad():
            logits = ckpt.model(prep.tensor)[0].double()
        probs = (logits / temperature).softmax(0)
        top = int(probs.argmax())
        emit({"file": str(path), "digit": top, "label": ckpt.classes[top],
              "confidence": round(float(probs[top]), 6),
              "probabilities": [round(float(p), 6) for p in probs],
              "temperature": temperature,
              "raw_confidence": round(float(logits.softmax(0)[top]), 6)})
    return status


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            return cmd_train(args, argv)
        return COMMANDS[args.command](args)
    except (UsageError, DataError, CheckpointError, SpecError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
