"""A model taken out of CNN Lab: a self-contained PyTorch training script, and the summary as JSON.

`training_script(config)` writes the run a TrainConfig describes (the Train page's form, or
`python -m core code`) as one readable Python file that needs only PyTorch and NumPy: an
nn.Module generated from the spec (one attribute per layer, the shape after each line), the IDX
files read in a few lines, the same optimizer, scheduler, label smoothing, weight decay,
augmentation, data fraction and seed as core.train, and a test evaluation after every epoch.
Started with the same seed it builds the same initial weights, draws the same training subset
and the same batches as core.train.TrainingRun, so its accuracy is the app's (apart from the
calibration hold-out, which it does not set aside; see the script's comments).

The spec is user input. Nothing from it becomes code as text: the config is checked first
(core.train.check_config: every layer type from the registry, every value a finite number within
its range, the server's limits), the layer constructors are written from the registry's types by
this module, numbers are written as repr() of validated ints and floats, and names (dataset
folder, classes, preset) come from core's own tables. `summary_record(spec)` is what
`python -m core summary` prints.
"""
from __future__ import annotations

import inspect
import math
import re
import shlex
import textwrap
from dataclasses import replace
from string import Template
from typing import Any, Callable

from core.data import CUSTOM, SPLIT_FILES, info_for
from core.imagefolder import stratified_split
from core.layers import LAYER_TYPES, Layer, Shape
from core.limits import Limits, check_spec
from core.models import (DEFAULT_PRESET, INPUT_SHAPE, PRESETS, ModelSummary, Spec, SpecError, flatten_explanation,
                         layer_label, summary, validate)
from core.train import TrainConfig, augment_batch, check_config, config_from_preset

SCRIPT_PREFIX = "cnn_lab_"
_IDENTIFIER = re.compile(r"[a-z]+[0-9]+")  # layer attribute names: conv1, bn2, fc1 (from the registry)


class CodegenError(ValueError):
    """The config cannot be written as a script (a layer type this module has no code for)."""


# ---------------------------------------------------------------------------- literals

def _int(value: Any) -> str:
    """A validated whole number as Python source."""
    if isinstance(value, bool) or int(value) != value:
        raise CodegenError(f"expected a whole number, not {type(value).__name__}")
    return repr(int(value))


def _float(value: Any) -> str:
    """A validated finite real number as Python source (repr of a finite float is a literal)."""
    if isinstance(value, bool) or not math.isfinite(float(value)):
        raise CodegenError(f"expected a finite number, not {type(value).__name__}")
    return repr(float(value))


def _comment(text: str, width: int = 96, indent: str = "# ") -> list[str]:
    """`text` as comment lines. Only core's own texts reach here; line breaks and other control
    characters are dropped all the same, so no text can end a comment and start code."""
    clean = "".join(c if c.isprintable() else " " for c in text)
    return textwrap.wrap(clean, width, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False) or [indent.rstrip()]


# ---------------------------------------------------------------------------- the model class

def _shape(shape: Shape) -> str:
    return "×".join(str(int(s)) for s in shape)


# One constructor per layer type, written from the normalized layer (numbers only) and its input
# shape. tests/test_codegen.py checks that every type of core.layers.LAYER_TYPES has one.
CONSTRUCTORS: dict[str, Callable[[Layer, Shape], str]] = {
    "conv": lambda x, s: (f"nn.Conv2d({_int(s[0])}, {_int(x['out'])}, kernel_size={_int(x['kernel'])}, "
                          f"stride={_int(x['stride'])}, padding={_int(x['padding'])})"),
    "relu": lambda x, s: "nn.ReLU()",
    "maxpool": lambda x, s: f"nn.MaxPool2d(kernel_size={_int(x['kernel'])}, stride={_int(x['stride'])})",
    "avgpool": lambda x, s: f"nn.AvgPool2d(kernel_size={_int(x['kernel'])}, stride={_int(x['stride'])})",
    "batchnorm": lambda x, s: f"nn.BatchNorm{'2d' if len(s) == 3 else '1d'}({_int(s[0])})",
    "dropout": lambda x, s: f"nn.Dropout(p={_float(x['p'])})",
    "flatten": lambda x, s: "nn.Flatten()",
    "linear": lambda x, s: f"nn.Linear({_int(s[0])}, {_int(x['out'])})",
}


def _aligned(pairs: list[tuple[str, str]], indent: str) -> list[str]:
    """Code lines with their comments lined up in one column."""
    width = max(len(code) for code, _ in pairs)
    return [f"{indent}{code:<{width}}  # {comment}" if comment else f"{indent}{code}" for code, comment in pairs]


def model_class(layers: Spec, model: ModelSummary, class_name: str = "Net") -> str:
    """`class Net(nn.Module)` for normalized, validated `layers` whose summary is `model`."""
    shapes = [model.input_shape] + [r.output_shape for r in model.layers]
    names = [layer_label(layers, i) for i in range(len(layers))]
    for name, layer in zip(names, layers):
        if layer["type"] not in CONSTRUCTORS:
            raise CodegenError(f"no code for layer type {layer['type']!r}")
        if not _IDENTIFIER.fullmatch(name):  # registry short names only; never a spec's text
            raise CodegenError(f"unusable layer name {name!r}")
    init = [(f"self.{name} = {CONSTRUCTORS[layer['type']](layer, shape)}",
             f"{row.params_formula} parameters" if row.params else "")
            for name, layer, shape, row in zip(names, layers, shapes, model.layers)]
    forward = [(f"x = self.{name}(x)", _shape(row.output_shape) + (f" ({row.note})" if row.note else ""))
               for name, row in zip(names, model.layers)]
    explanation = flatten_explanation(model)
    lines = [f"class {class_name}(nn.Module):"]
    lines += _comment(f"{len(layers)} layers, {model.total_params:,} parameters, "
                      f"{model.total_mult_adds:,} multiply-adds per image. Each attribute is one layer "
                      "of the CNN Lab spec, in order (CNN Lab's checkpoints call them 0, 1, 2, …: the "
                      "same tensors in the same order).", indent="    # ")
    if explanation is not None:
        lines += _comment(f"Why the linear layer has that many inputs: {explanation.sentence()}", indent="    # ")
    lines += ["", "    def __init__(self):", "        super().__init__()"]
    lines += _aligned(init, "        ")
    lines += ["", "    def forward(self, x):",
              f"        # x: a batch of images, {_shape(model.input_shape)} each; the comments give one image's shape"]
    lines += _aligned(forward, "        ") + ["        return x  # one score (logit) per class"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- the recipe

_OPTIMIZERS = {
    "sgd": ("SGD with momentum", "torch.optim.SGD(params, lr=LEARNING_RATE, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)"),
    "adam": ("Adam", "torch.optim.Adam(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)"),
    "adamw": ("AdamW", "torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)"),
    "rmsprop": ("RMSprop", "torch.optim.RMSprop(params, lr=LEARNING_RATE, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)"),
    "adadelta": ("Adadelta", "torch.optim.Adadelta(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)"),
}

_ONECYCLE = """\
    if total < 4:  # OneCycleLR needs at least 2 steps per phase; a tiny run keeps a constant rate
        return None
    # 25% warm-up from LEARNING_RATE/10 to LEARNING_RATE, then down to LEARNING_RATE/1e5 along a
    # $curve (the "super-convergence" shape).
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LEARNING_RATE, total_steps=total, pct_start=max(0.25, 2 / total),
        div_factor=10.0, anneal_strategy="$strategy")"""

_SCHEDULERS = {
    "none": ("a constant learning rate", "    return None  # no scheduler: a constant learning rate"),
    "step": ("the learning rate halved after every epoch",
             "    # Stepped after every batch, so step_size counts batches: halve once per epoch.\n"
             "    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=steps_per_epoch, gamma=0.5)"),
    "cosine": ("a cosine decay of the learning rate",
               "    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)"),
    "onecycle": ("a one-cycle schedule (cosine)", Template(_ONECYCLE).substitute(curve="cosine", strategy="cos")),
    "onecycle_linear": ("a one-cycle schedule (linear)",
                        Template(_ONECYCLE).substitute(curve="straight line (Smith's original triangle)",
                                                       strategy="linear")),
}


def _recipe_sentence(config: TrainConfig) -> str:
    parts = [f"{_OPTIMIZERS[config.optimizer][0]}, learning rate {float(config.lr):g}"]
    if config.optimizer in ("sgd", "rmsprop"):
        parts.append(f"momentum {float(config.momentum):g}")
    parts.append(f"weight decay {float(config.weight_decay):g}")
    parts.append(_SCHEDULERS[config.scheduler][0])
    parts.append(f"label smoothing {float(config.label_smoothing):g}")
    parts.append(f"batch {int(config.batch_size)}")
    parts.append(f"{int(config.epochs)} epoch{'s' if int(config.epochs) != 1 else ''}")
    parts.append(f"{100 * float(config.fraction):g}% of the training set")
    parts.append("random shift/rotation/scale" if config.augment else "no augmentation")
    parts.append(f"seed {int(config.seed)}")
    return ", ".join(parts) + "."


def preset_of(config: TrainConfig, layers: Spec) -> str | None:
    """The preset whose architecture the config has, else None (an edited or custom model)."""
    name = config.preset
    if isinstance(name, str) and name in PRESETS and validate(PRESETS[name].spec()) == layers:
        return name
    return None


def script_file_name(config: TrainConfig) -> str:
    """cnn_lab_fast.py, cnn_lab_2_conv_16_32_fc_128.py, or cnn_lab_custom.py for an architecture
    that is no preset's (an edited one too): a file name safe on every system."""
    try:
        name = preset_of(config, validate(config.spec))
    except SpecError:
        name = None
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") if name else ""
    return f"{SCRIPT_PREFIX}{slug or 'custom'}.py"


# ---------------------------------------------------------------------------- the script

_IDX_FUNCTIONS = '''\
def read_idx(path):
    """One gzipped IDX file as a uint8 array. The header is big-endian: a magic number whose last
    byte is the number of dimensions, then one 4-byte size per dimension; the pixels follow."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data_dir, prefix):
    """Images as float32 [N, 1, 28, 28] standardized with MEAN and STD, labels as int64 [N]."""
    folder = Path(data_dir) / DATASET / "raw"
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
    x = (torch.from_numpy(images.astype(np.float32) / 255.0) - MEAN) / STD
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))

# With torchvision installed, the same tensors come from its dataset class (it downloads the
# same four files into the same <data dir>/$folder_text/raw/ folder):
#   from torchvision import datasets, transforms
#   to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
#   train_set = datasets.$torchvision_class(data_dir, train=True, download=True, transform=to_tensor)
#   test_set = datasets.$torchvision_class(data_dir, train=False, download=True, transform=to_tensor)
#   batches = torch.utils.data.DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
# This script keeps each split in one tensor and slices batches from it instead: no per-image
# work, which is much faster on a CPU (and what CNN Lab does).
'''


_FOLDER_FUNCTIONS = '''\
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def read_image(path):
    """One image file as the 28×28 picture the model receives: grey, bright ink on black, 0..1.
    The zip CNN Lab exports already holds such pictures. Any other image is only resized here;
    CNN Lab itself first finds the ink, crops it and centres it (core.preprocess), so prepare
    photos and drawings in CNN Lab (Your classes → Export) for the same results."""
    with Image.open(path) as img:
        grey = img.convert("L")
        if grey.size != (28, 28):
            grey = grey.resize((28, 28), Image.BILINEAR)
        a = np.asarray(grey, dtype=np.float32) / 255.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    return 1.0 - a if np.median(border) > 0.5 else a  # dark ink on light paper: inverted


def load_folder(folder):
    """Every image of <folder>/<class name>/ (one folder per class, torchvision's ImageFolder
    layout) as float32 [N, 1, 28, 28] standardized with MEAN and STD, and labels int64 [N]
    numbered in the order of CLASSES (the model's outputs)."""
    images, labels = [], []
    for label, name in enumerate(CLASSES):
        class_folder = Path(folder) / name
        if not class_folder.is_dir():
            raise SystemExit(f"{class_folder} is missing: the folder needs one subfolder per class {CLASSES}")
        for path in sorted(class_folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                images.append(read_image(path))
                labels.append(label)
    x = (torch.from_numpy(np.stack(images)) - MEAN) / STD
    return x.unsqueeze(1), torch.tensor(labels, dtype=torch.int64)


$split_function
# With torchvision installed, datasets.ImageFolder(folder) reads the same layout (it numbers the
# classes in sorted folder-name order, which may differ from CLASSES).
'''

_FOLDER_LOAD = """\
    # Your classes: every image of the folder, split per class into training and validation
    # examples exactly as CNN Lab splits them (same function, same seed). The validation
    # examples play the test set's part: the "test" figures below are measured on them.
    x_all, y_all = load_folder(args.data_folder)
    train_index, validation_index = stratified_split(y_all, VALIDATION_SHARE, args.seed)
    x_train, y_train = x_all[train_index], y_all[train_index]
    x_test, y_test = x_all[validation_index], y_all[validation_index]"""

_IDX_LOAD = """\
    x_train, y_train = load_split(args.data_dir, "train")
    x_test, y_test = load_split(args.data_dir, "t10k")"""


_SCRIPT = Template('''\
#!/usr/bin/env python3
$header
import argparse
import gzip
import json
import math
import struct
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
$extra_imports
# ----------------------------------------------------------------------------- the recipe
$dataset_line
CLASSES = $classes
MEAN, STD = $mean, $std  # the training set's pixel mean and std (pixels scaled to 0..1)
EPOCHS = $epochs
BATCH_SIZE = $batch_size
LEARNING_RATE = $lr
MOMENTUM = $momentum  # used by SGD and RMSprop only
WEIGHT_DECAY = $weight_decay
LABEL_SMOOTHING = $label_smoothing
AUGMENT = $augment  # random rotation (±10°), scale (0.9–1.1) and shift (±2 px) of every batch
FRACTION = $fraction  # share of the training set used
SEED = $seed


# ----------------------------------------------------------------------------- the model
$model_class

# ----------------------------------------------------------------------------- the data
$data_functions


$augment_function

# ----------------------------------------------------------------------------- training
def make_optimizer(params):
    return $optimizer


def make_scheduler(optimizer, steps_per_epoch, epochs):
    """$scheduler_text."""
    total = steps_per_epoch * epochs
$scheduler


@torch.no_grad()
def evaluate(model, images, labels, device, batch_size=1000):
    """(accuracy, mean cross-entropy) on a whole split."""
    model.eval()
    correct, loss_sum = 0, 0.0
    for i in range(0, len(labels), batch_size):
        x, y = images[i:i + batch_size].to(device), labels[i:i + batch_size].to(device)
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += int((logits.argmax(1) == y).sum())
    return correct / len(labels), loss_sum / len(labels)


def emit(record):
    print(json.dumps(record), flush=True)


def main():
    parser = argparse.ArgumentParser(description="Train the exported CNN Lab model.")
    $data_argument
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--max-steps", type=int, help="stop after this many batches (a quick check)")
    parser.add_argument("--fraction", type=float, default=FRACTION, help="share of the training set, e.g. 0.1")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--log-every", type=int, default=50, help="batches between progress lines")
    parser.add_argument("--save", help="write the trained weights (state_dict) to this file")
    parser.add_argument("--test-limit", type=int, help="evaluate on the first N test images only (a quick check)")
    args = parser.parse_args()
    if args.epochs < 1 or not 0 < args.fraction <= 1:
        parser.error("--epochs must be at least 1 and --fraction above 0 and at most 1")
    device = torch.device(args.device)

    # The seed fixes the initial weights (drawn now, layer by layer), the training subset, the
    # batch order and the augmentation: the same numbers as CNN Lab's run with this seed.
    torch.manual_seed(args.seed)
    model = Net()
    model.eval()  # a probe with one blank image: the size of the model and of its output
    with torch.no_grad():
        out = model(torch.zeros(1, 1, 28, 28))
    emit({"event": "model", "model": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters()),
          "output_shape": list(out.shape)})
    model = model.to(device)
    if device.type == "cpu":  # same numbers; oneDNN's convolutions are faster in this layout
        model = model.to(memory_format=torch.channels_last)

$load_block
    if args.test_limit is not None:
        x_test, y_test = x_test[:max(1, args.test_limit)], y_test[:max(1, args.test_limit)]
    # CNN Lab's app sets aside 5,000 training images to calibrate the model's confidence after
    # training; this script trains on all of them (like `python -m core train
    # --calibration-holdout 0`). A fraction below 1 is a seeded random subset, as in CNN Lab.
    n = len(y_train)
    keep = max(1, int(round(n * args.fraction)))
    if keep < n:
        subset = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))[:keep]
        x_train, y_train = x_train[subset], y_train[subset]
    x_train, y_train = x_train.to(device), y_train.to(device)

    n, batch = len(y_train), BATCH_SIZE
    steps_per_epoch = math.ceil(n / batch)
    optimizer = make_optimizer(model.parameters())
    scheduler = make_scheduler(optimizer, steps_per_epoch, args.epochs)
    generator = torch.Generator().manual_seed(args.seed)  # batch order and augmentation
    background = -MEAN / STD  # a blank pixel after standardizing
    emit({"event": "start", "train_size": n, "test_size": len(y_test), "steps_per_epoch": steps_per_epoch,
          "epochs": args.epochs, "device": str(device)})
    step, started = 0, time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, batch):
            if args.max_steps is not None and step >= args.max_steps:
                break
            idx = order[start:start + batch]
            x, y = x_train[idx], y_train[idx]
            if AUGMENT:
                x = augment_batch(x, generator, background)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=LABEL_SMOOTHING)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            if step % args.log_every == 0 or step == 1:
                emit({"event": "step", "step": step, "epoch": epoch, "loss": round(loss.item(), 6),
                      "lr": optimizer.param_groups[0]["lr"]})
        accuracy, loss = evaluate(model, x_test, y_test, device)
        emit({"event": "epoch", "epoch": epoch, "step": step, "test_accuracy": accuracy, "test_loss": loss,
              "seconds": round(time.perf_counter() - started, 1)})
        if args.max_steps is not None and step >= args.max_steps:
            break
    if args.save:
        torch.save(model.state_dict(), args.save)
    emit({"event": "done", "steps": step, "test_accuracy": accuracy, "classes": list(CLASSES)})


if __name__ == "__main__":
    main()
''')


def _header(config: TrainConfig, layers: Spec, file_name: str, preset: str | None) -> str:
    """The comment block at the top: what the script trains, on what, and how to run it."""
    info = info_for(config.dataset, config.classes)
    folder = config.dataset == CUSTOM
    lines = [f"# {file_name}: a CNN Lab training run as a plain PyTorch script.", "#"]
    if preset is not None:
        lines += _comment(f'Architecture and recipe: CNN Lab preset "{preset}". {PRESETS[preset].description}')
        if PRESETS[preset].note:
            lines += _comment(PRESETS[preset].note)
    else:
        lines += _comment(f"Architecture: a custom model of {len(layers)} layers built in CNN Lab.")
    cli = cli_command(config, preset)
    lines += ["#"] + _comment(f"Recipe (as set in CNN Lab): {_recipe_sentence(config)}")
    files = ", ".join(SPLIT_FILES.values())
    if folder:
        lines += ["#"] + _comment(
            f"Data: your own {len(info.classes)} classes, one folder of images per class "
            "(my_classes/<class name>/0001.png — the zip CNN Lab exports, and the layout torchvision's "
            f"ImageFolder reads); {100 * float(config.validation_share):g}% of every class is kept "
            "aside for validation.")
        if config.init_from:
            lines += ["#"] + _comment(
                "CNN Lab started this model from a trained model's layers (transfer"
                + (", convolutions frozen" if config.freeze else ", all layers fine-tuned")
                + "); this script starts from random weights, so expect lower accuracy with few examples.")
        lines += ["#", "# Needs PyTorch, NumPy and Pillow (no CNN Lab, no torchvision). Run it with:",
                  f"#   python {file_name} --data-folder ./my_classes",
                  "# a quick check, three batches:",
                  f"#   python {file_name} --data-folder ./my_classes --epochs 1 --max-steps 3",]
    else:
        lines += ["#"] + _comment(f"Data: {info.title}, the four IDX files ({files}) in "
                                  f"<data dir>/{info.folder}/raw/ — the layout torchvision's "
                                  f"datasets.{info.folder} downloads and CNN Lab reads.")
        lines += ["#", "# Needs only PyTorch and NumPy (no CNN Lab, no torchvision). Run it with:",
                  f"#   python {file_name} --data-dir ./data",
                  "# a quick check on 1% of the data, three batches:",
                  f"#   python {file_name} --data-dir ./data --epochs 1 --max-steps 3 --fraction 0.01",]
    lines += [
              "# It prints JSON lines: the model's size first, then progress, then the test accuracy",
              "# after every epoch. Exported by CNN Lab: the Train page's code panel, or",
              f"#   {cli}"]
    return "\n".join(lines)


# TrainConfig field -> the `python -m core code` option that sets it
_OPTIONS = {"dataset": "--dataset", "epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr",
            "optimizer": "--optimizer", "scheduler": "--scheduler", "momentum": "--momentum",
            "weight_decay": "--weight-decay", "label_smoothing": "--label-smoothing", "fraction": "--fraction",
            "seed": "--seed"}


def cli_command(config: TrainConfig, preset: str | None) -> str:
    """The `python -m core code` line that writes this script: the preset (or a spec file) and
    an option for each setting that differs from the preset's recipe (validated values only)."""
    base = config_from_preset(preset or DEFAULT_PRESET)
    words = ["python", "-m", "core", "code"] + (["--preset", preset] if preset else ["--spec", "my_model.json"])
    if config.dataset == CUSTOM:  # the folder's own name is the learner's: a placeholder instead
        words += ["--data-folder", "my_classes"]
        if float(config.validation_share) != 0.2:
            words += ["--validation-share", _float(config.validation_share)]
    for name, option in _OPTIONS.items():
        value = getattr(config, name)
        if name == "dataset" and value == CUSTOM:
            continue
        if value != getattr(base, name):
            words += [option, value if isinstance(value, str) else
                      _int(value) if name in ("epochs", "batch_size", "seed") else _float(value)]
    if bool(config.augment) != bool(base.augment):
        words.append("--augment" if config.augment else "--no-augment")
    return " ".join(shlex.quote(w) for w in words)


def training_script(config: TrainConfig, limits: Limits | None = None) -> str:
    """The whole script for `config`; ConfigError / SpecError / LimitError / DataError when the
    config could not be trained here (the same checks as starting the run)."""
    info = info_for(config.dataset, config.classes)
    folder = config.dataset == CUSTOM
    num_classes = len(info.classes)
    # The script picks its own device; everything else is checked as for a real run.
    check_config(replace(config, device="cpu"), num_classes, limits)
    layers = validate(config.spec, INPUT_SHAPE, num_classes)
    model = summary(layers, INPUT_SHAPE, num_classes)
    preset = preset_of(config, layers)
    file_name = script_file_name(config)
    return _SCRIPT.substitute(
        header=_header(config, layers, file_name, preset),
        # CNN Lab's own function, word for word: the script augments exactly as core.train does
        augment_function=inspect.getsource(augment_batch).rstrip("\n") + "\n",
        extra_imports="from PIL import Image\n" if folder else "",
        dataset_line=(f"DATA_FOLDER = {repr('my_classes')}  # default --data-folder: one subfolder of images per class\n"
                      f"VALIDATION_SHARE = {_float(config.validation_share)}  # of every class, kept to check the model"
                      if folder else f"DATASET = {info.folder!r}  # folder under --data-dir, as torchvision names it"),
        data_functions=(Template(_FOLDER_FUNCTIONS).substitute(
                            split_function=inspect.getsource(stratified_split).rstrip("\n") + "\n")
                        if folder else Template(_IDX_FUNCTIONS).substitute(folder_text=info.folder,
                                                                           torchvision_class=info.folder)).rstrip("\n"),
        data_argument=('parser.add_argument("--data-folder", default=DATA_FOLDER, help="one subfolder of images per class")'
                       if folder else
                       'parser.add_argument("--data-dir", default="./data", help="folder with <DATASET>/raw/*-ubyte.gz")'),
        load_block=_FOLDER_LOAD if folder else _IDX_LOAD,
        # Class names are the learner's text: repr() of a str is always one valid, inert literal.
        classes=repr(tuple(str(c) for c in info.classes)),
        mean=_float(info.mean), std=_float(info.std),
        epochs=_int(config.epochs), batch_size=_int(config.batch_size), lr=_float(config.lr),
        momentum=_float(config.momentum), weight_decay=_float(config.weight_decay),
        label_smoothing=_float(config.label_smoothing), augment=repr(bool(config.augment)),
        fraction=_float(config.fraction), seed=_int(config.seed),
        model_class=model_class(layers, model).rstrip("\n") + "\n",
        optimizer=_OPTIMIZERS[config.optimizer][1],
        scheduler_text=f"The learning-rate schedule, stepped after every batch: {_SCHEDULERS[config.scheduler][0]}",
        scheduler=_SCHEDULERS[config.scheduler][1],
    )


# ---------------------------------------------------------------------------- the summary as JSON

def summary_record(spec: Spec, limits: Limits | None = None, num_classes: int = 10) -> dict[str, Any]:
    """Everything the Train page's summary shows, as one JSON-able dict (`python -m core summary`)."""
    model = check_spec(spec, INPUT_SHAPE, num_classes, 1, limits)
    explanation = flatten_explanation(model)
    return {
        "input_shape": list(model.input_shape),
        "layers": [{"layer": r.index + 1, "name": r.name, "description": r.description,
                    "output_shape": list(r.output_shape), "params": r.params,
                    "params_formula": r.params_formula, "mult_adds": r.mult_adds,
                    "receptive_field": r.receptive_field, "jump": r.jump} for r in model.layers],
        "output_shape": list(model.layers[-1].output_shape),
        "total_params": model.total_params,
        "total_mult_adds": model.total_mult_adds,
        "flatten_formula": model.flatten_formula or None,
        "flatten_explanation": explanation.sentence() if explanation else None,
    }


__all__ = ["training_script", "script_file_name", "summary_record", "model_class", "CONSTRUCTORS",
           "CodegenError"]
