"""Command line: `python -m core train|evaluate|predict|code|summary …`.

Every command prints JSON lines on stdout (`code` without --output prints the script itself); a bad argument or unreadable file prints one line on
stderr and exits with code 2 (never a traceback). The server's limits (core.limits, CNN_LAB_MAX_*)
apply here too; `--no-limits` lifts them for a local user who means it.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from core import settings
from core.settings import SettingsError
from core.checkpoint import (CheckpointError, CheckpointExistsError, check_save_target, output_path, load_checkpoint,
                             make_metadata, save_checkpoint)
from core.data import DATASETS, DataError, get_info, load_dataset
from core.imagefolder import FolderError
from core.images import ImageError
from core.jobs import RunFailed
from core.limits import Limits
from core.limits import current as current_limits
from core.models import PRESETS, SpecError
from core.train import (OPTIMIZERS, SCHEDULERS, ConfigError, TrainConfig, TrainingRun, check_config,
                        config_from_preset, evaluate)


MAX_SPEC_BYTES = 1024 * 1024


class UsageError(Exception):
    """Bad input from the person at the terminal: one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints usage; we keep to one line
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m core", description="CNN Lab command line.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train a model, print one JSON event per line")
    add_recipe_options(t)
    t.add_argument("--calibration-holdout", type=int,
                   help="training images held out to fit the softmax temperature (default 5000, 0: none)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    t.add_argument("--log-every", type=int, default=50, help="steps between step events")
    t.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    t.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where to train: in this process, or as a Ray task ($RAY_ADDRESS, else a "
                        "local Ray cluster; needs requirements-ray.txt)")
    t.add_argument("--data-dir", help="folder with <Name>/raw/*-ubyte.gz (else $CNN_LAB_DATA_DIR or download)")
    t.add_argument("--output", type=Path, help="save the trained model to this .safetensors file")
    t.add_argument("--name", help="model name stored in the checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    add_no_limits(t)

    e = sub.add_parser("evaluate", help="test-set accuracy and calibration error of a checkpoint")
    e.add_argument("--checkpoint", required=True, type=Path)
    e.add_argument("--data-dir")
    e.add_argument("--data-folder", type=Path, help="for a model of your own classes: the folder to test on "
                                                    "(one subfolder per class)")
    add_no_limits(e)

    r = sub.add_parser("predict", help="classify image files with the app's preprocessing")
    r.add_argument("images", nargs="+", type=Path)
    r.add_argument("--checkpoint", type=Path, default=Path(__file__).resolve().parent.parent
                   / "checkpoints" / "mnist-default.safetensors")
    r.add_argument("--raw", action="store_true",
                   help="report the raw softmax instead of the calibrated (temperature-scaled) one")
    add_no_limits(r)

    c = sub.add_parser("code", help="print a self-contained PyTorch training script for a preset or spec")
    add_recipe_options(c)
    c.add_argument("--output", type=Path, help="write the script to this file instead of printing it")
    c.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    c.set_defaults(device="auto", log_every=50, calibration_holdout=None)
    add_no_limits(c)

    m = sub.add_parser("summary", help="the model summary as one JSON object (shapes, parameters, "
                                       "multiply-adds, receptive fields, flatten formula)")
    which = m.add_mutually_exclusive_group(required=True)
    which.add_argument("--preset", help=f"one of: {', '.join(PRESETS)}")
    which.add_argument("--spec", type=Path, help="JSON file with a layer list")
    add_no_limits(m)
    return p


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """What a run trains and how: the options `train` and `code` share (a preset's layers and
    recipe, then any of these on top)."""
    parser.add_argument("--preset", default="fast", help=f"one of: {', '.join(PRESETS)} (its layers and recipe)")
    parser.add_argument("--spec", type=Path, help="JSON file with a layer list (overrides --preset's layers)")
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--scheduler", choices=SCHEDULERS)
    parser.add_argument("--momentum", type=float, help="SGD's and RMSprop's momentum (default 0.9)")
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the training set (e.g. 0.1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-folder", type=Path,
                        help="train on your own classes: a folder with one subfolder of images per class "
                             "(cats/001.png, dogs/001.png; torchvision's ImageFolder layout)")
    parser.add_argument("--validation-share", type=float,
                        help="with --data-folder: share of every class kept for validation (default 0.2)")
    parser.add_argument("--init-from", type=Path,
                        help="transfer: start from this checkpoint's layers (its architecture, last layer resized)")
    parser.add_argument("--freeze", action="store_true",
                        help="with --init-from: keep the copied convolution layers fixed (only the classifier learns)")


def add_no_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-limits", action="store_true",
                        help="lift the server limits (model size, multiply-adds, memory, upload sizes; "
                             "README 'Settings') for this local run")


def limits_of(args) -> Limits:
    return Limits.none() if args.no_limits else current_limits()


def emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def make_config(args, folder_data=None) -> TrainConfig:
    if folder_data is not None or getattr(args, "data_folder", None) or getattr(args, "init_from", None):
        return make_folder_config(args, folder_data)
    if getattr(args, "freeze", False):
        raise UsageError("--freeze needs --init-from (a trained model to start from)")
    overrides = dict(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                     optimizer=args.optimizer, scheduler=args.scheduler, weight_decay=args.weight_decay,
                     label_smoothing=args.label_smoothing, augment=args.augment,
                     fraction=args.fraction, seed=args.seed, device=args.device,
                     log_every=args.log_every, calibration_holdout=args.calibration_holdout,
                     momentum=args.momentum)
    config = config_from_preset(args.preset, **overrides)
    if args.spec:
        config.spec = read_spec(args.spec)
        config.preset = None
    return config


def _explicit_recipe(args) -> dict:
    """The recipe options the person typed (None = not given)."""
    given = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                 scheduler=args.scheduler, weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
                 augment=args.augment, momentum=args.momentum, calibration_holdout=args.calibration_holdout)
    return {k: v for k, v in given.items() if v is not None}


def make_folder_config(args, folder_data) -> TrainConfig:
    """A run on your own classes (--data-folder) and/or a transfer run (--init-from): the app's
    recipe for few examples (core.userdata.train_config), then the options typed on top."""
    from dataclasses import replace

    from core.transfer import load_source, transfer_spec

    if args.freeze and not args.init_from:
        raise UsageError("--freeze needs --init-from (a trained model to start from)")
    base = config_from_preset(args.preset, device=args.device, log_every=args.log_every, seed=args.seed)
    source = load_source(str(args.init_from), limits_of(args)) if args.init_from else None
    spec = read_spec(args.spec) if args.spec else (source.spec if source else base.spec)
    init = dict(init_from=str(args.init_from.resolve()), init_name=source.name) if source else {}
    if folder_data is None and not args.data_folder:
        # Transfer on a built-in dataset: the source's architecture with as many outputs as it has classes.
        n = len(get_info(args.dataset).classes)
        return replace(base, **_explicit_recipe(args), spec=transfer_spec(spec, n), dataset=args.dataset,
                       fraction=args.fraction, freeze=args.freeze, preset=None, **init)
    from core.userdata import train_config

    config = train_config(folder_data, base=base, source_spec=spec, freeze=args.freeze, seed=args.seed,
                          max_epochs=1000, **init)
    if not source:
        config.init_from = config.init_name = None
    return replace(config, **_explicit_recipe(args), data_folder=str(args.data_folder),
                   validation_share=folder_data.validation_share if hasattr(folder_data, "validation_share")
                   else config.validation_share, fraction=args.fraction,
                   preset=None if (args.spec or source) else args.preset)


def load_folder(args):
    """--data-folder as a UserDataset (core.userdata), or None without it."""
    if not getattr(args, "data_folder", None):
        return None
    from core.userdata import VALIDATION_SHARE, load_folder_dataset

    share = VALIDATION_SHARE if args.validation_share is None else args.validation_share
    if not 0 < share <= 0.5:
        raise UsageError(f"--validation-share must be above 0 and at most 0.5, not {share}")
    data, report = load_folder_dataset(args.data_folder, share, args.seed, limits_of(args))
    object.__setattr__(data, "validation_share", share)
    return data, report


def read_spec(path: Path):
    """The JSON layer list in `path`, or UsageError saying why it cannot be read."""
    try:
        if path.is_file() and path.stat().st_size > MAX_SPEC_BYTES:
            raise UsageError(f"{path} is larger than {MAX_SPEC_BYTES // 1024} KB; a spec is a short list of layers")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read spec file {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a UTF-8 text file; a spec is a JSON list of layers") from None
    except RecursionError:
        raise UsageError(f"{path} is nested too deeply; a spec is a JSON list of layers") from None


def cmd_train(args, argv=None) -> int:
    import torch

    limits = limits_of(args)
    if args.threads is not None and not 1 <= args.threads <= 1024:
        raise UsageError(f"--threads must be between 1 and 1024, not {args.threads}")
    if args.name is not None and (len(args.name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in args.name)):
        raise UsageError("--name must be at most 200 characters without control characters")
    folder = load_folder(args)
    folder_data = folder[0] if folder else None
    config = make_config(args, folder_data)
    # Everything is checked before the (possibly slow) dataset load and the training itself, so a
    # mistake fails fast and a trained model is never lost to a name that cannot be saved.
    check_config(config, len(folder_data.classes) if folder_data else len(get_info(config.dataset).classes), limits)
    if args.output:
        try:
            args.output = check_save_target(args.output, args.overwrite, replace_bundled=args.overwrite)
        except CheckpointExistsError:
            raise UsageError(f"{output_path(args.output)} already exists; pass --overwrite or choose another --output") from None
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.backend == "ray":
        from core.jobs import make_backend

        backend = make_backend("ray", threads=args.threads, data_dir=args.data_dir)
        backend.check()  # Ray missing: one line saying how to install it, before any loading
    if folder_data is not None:
        if args.backend == "ray":
            raise UsageError("--data-folder trains in this process; leave out --backend ray")
        emit({"event": "data", "folder": str(args.data_folder), "classes": folder_data.classes,
              "train": list(folder_data.train_counts), "validation": list(folder_data.validation_counts),
              "split": folder_data.split_sentence(), "report": folder[1].sentence()})
    data = folder_data if folder_data is not None else load_dataset(config.dataset, args.data_dir)
    if args.backend == "ray":
        from core.jobs import BackendRun

        run = BackendRun(config, data, backend)
    else:
        run = TrainingRun(config, data, limits=limits)
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
                event["checkpoint"] = str(save_checkpoint(args.output, run.model, meta, args.overwrite,
                                                          replace_bundled=args.overwrite))
        emit(event)
    return 0


def cmd_evaluate(args) -> int:
    from core.calibration import N_BINS, calibration_report, temperature_from_meta

    ckpt = load_checkpoint(args.checkpoint, limits_of(args))
    if ckpt.dataset == "custom" or args.data_folder:
        images, labels = folder_test_set(args, ckpt)
    else:
        data = load_dataset(ckpt.dataset, args.data_dir)
        images, labels = data.normalized(data.test_images), data.test_labels
    result = evaluate(ckpt.model, images, labels, num_classes=len(ckpt.classes))
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


def folder_test_set(args, ckpt):
    """Every image of --data-folder (normalized) with labels in the checkpoint's class order."""
    import torch

    from core.data import normalize
    from core.imagefolder import decode_view, read_folder
    from core.userdata import clean_class_name

    if not args.data_folder:
        raise UsageError("this model was trained on its own classes; pass --data-folder DIR (one subfolder "
                         "of images per class) to test it")
    found = read_folder(args.data_folder)
    order = {name.casefold(): i for i, name in enumerate(ckpt.classes)}
    images, labels = [], []
    for folder_name, files in found.classes.items():
        label = order.get(clean_class_name(folder_name).casefold())
        if label is None:
            raise UsageError(f"the folder '{folder_name}' is not one of the model's classes "
                             f"({', '.join(ckpt.classes)})")
        for _, data in files:
            view = decode_view(data, limits_of(args))
            if view is not None:
                images.append(torch.from_numpy(view))
                labels.append(label)
    if not images:
        raise UsageError(f"{args.data_folder} holds no images of the model's classes")
    return normalize(torch.stack(images), ckpt_info(ckpt)), torch.tensor(labels)


def ckpt_info(ckpt):
    from core.data import info_for

    return info_for(ckpt.dataset, ckpt.classes)


def cmd_predict(args) -> int:
    import torch

    from core.calibration import temperature_from_meta
    from core.images import ImageError, load_image_bytes
    from core.preprocess import UPLOAD_SIDE, preprocess

    limits = limits_of(args)
    ckpt = load_checkpoint(args.checkpoint, limits)
    temperature = 1.0 if args.raw else temperature_from_meta(ckpt.meta)
    status = 0
    for path in args.images:
        try:
            if limits.max_image_bytes is not None and path.is_file() and path.stat().st_size > limits.max_image_bytes:
                raise ImageError("too_many_bytes", size_mb=path.stat().st_size / 2**20,
                                 max_mb=round(limits.max_image_bytes / 2**20, 2))
            image = load_image_bytes(path.read_bytes(), limits, max_side=UPLOAD_SIDE)  # as the Predict page
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
            emit({"file": str(path), "class": None, "digit": None, "reason": "nothing drawn: the image has no ink"})
            continue
        with torch.no_grad():
            logits = ckpt.model(prep.tensor)[0].double()
        probs = (logits / temperature).softmax(0)
        top = int(probs.argmax())
        # "class": the predicted class's name (a digit, or one of your own classes); "digit" is its
        # index in the model's output (kept under this name for scripts written before classes).
        emit({"file": str(path), "class": ckpt.classes[top], "digit": top, "label": ckpt.classes[top],
              "confidence": round(float(probs[top]), 6),
              "probabilities": [round(float(p), 6) for p in probs],
              "temperature": temperature,
              "raw_confidence": round(float(logits.softmax(0)[top]), 6)})
    return status


def cmd_code(args) -> int:
    """The training script for a preset or spec with the recipe options applied (core.codegen)."""
    from core.codegen import training_script

    folder = load_folder(args)
    script = training_script(make_config(args, folder[0] if folder else None), limits_of(args))
    if args.output is None:
        sys.stdout.write(script)
        sys.stdout.flush()
        return 0
    target = args.output
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name such as cnn_lab_fast.py")
    if target.exists() and not args.overwrite:
        raise UsageError(f"{target} already exists; pass --overwrite or choose another --output")
    try:
        target.write_text(script, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {target}: {e.strerror}") from None
    emit({"script": str(target), "bytes": len(script.encode("utf-8"))})
    return 0


def cmd_summary(args) -> int:
    from core.codegen import summary_record

    if args.preset is not None and args.preset not in PRESETS:
        raise UsageError(f"Unknown preset '{args.preset[:40]}'; choose one of: {', '.join(PRESETS)}.")
    spec = PRESETS[args.preset].spec() if args.preset is not None else read_spec(args.spec)
    emit({"preset": args.preset, **summary_record(spec, limits_of(args))})
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "code": cmd_code,
            "summary": cmd_summary}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            return cmd_train(args, argv)
        return COMMANDS[args.command](args)
    except (UsageError, DataError, CheckpointError, SpecError, ConfigError, SettingsError, FolderError,
            ImageError) as e:  # (core.userdata.UserDataError is a CheckpointError)
        return fail(e, 2)
    except RunFailed as e:  # the run itself broke (e.g. its Ray worker died): not bad input
        return fail(e, 1)
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        return fail("not enough memory for this request; use a smaller model or batch", 2)
    except Exception as e:  # a bug: still one line (set CNN_LAB_DEBUG=1 for the traceback)
        if settings.debug():
            raise
        return fail(f"unexpected {type(e).__name__}: {e} (set CNN_LAB_DEBUG=1 for details)", 1)


def fail(message, code: int) -> int:
    """One line on stderr, whatever the message holds."""
    text = " ".join(str(message).split()) or "failed"
    print(f"error: {text[:500]}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
