"""The training configuration: what a run is asked to do, and the one check that it can.

`TrainConfig` is the recipe of one run (architecture spec, optimizer, schedule, data fraction…);
`check_config` refuses, in one sentence, any setting that cannot (or may not, on this server)
train. Both core.recipe (the Train page's form) and core.train (the training loop) use it, and
neither imports the other for it. Nothing here loads PyTorch: checking a config is arithmetic
(only a cuda/mps device name asks torch whether that device exists).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field
from typing import Any

from core.limits import Limits, check_spec
from core.models import INPUT_SHAPE, PRESETS, Spec

LR_MAX = 10.0


def learning_rate_ok(lr) -> bool:
    """Above 0, at most LR_MAX and finite (the one range check, shared with core.recipe)."""
    return isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and 0 < lr <= LR_MAX


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adadelta")
SCHEDULERS = ("none", "step", "cosine", "onecycle", "onecycle_linear")


@dataclass
class TrainConfig:
    spec: Spec = field(default_factory=lambda: PRESETS["fast"].spec())
    dataset: str = "mnist"
    epochs: int = 1
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9          # SGD momentum; also RMSprop's
    weight_decay: float = 0.0
    scheduler: str = "none"
    label_smoothing: float = 0.0
    augment: bool = False          # random shift/rotate/scale on whole batches
    fraction: float = 1.0          # share of the training set used, for quick runs
    seed: int = 0
    device: str = "auto"
    log_every: int = 20            # steps between "step" events
    eval_each_epoch: bool = True
    preset: str | None = None      # the preset name, when the spec came from one
    # Training images held out (never trained on) to fit the softmax temperature after training;
    # capped at a tenth of the training set, 0 turns calibration off.
    calibration_holdout: int = 5000
    # Your own classes (dataset "custom", core.userdata / core.imagefolder): their names, in the
    # model's output order; the one-folder-per-class folder they came from (command line only);
    # the share of every class's examples kept for validation (the run's "test" figures).
    classes: list[str] | None = None
    data_folder: str | None = None
    validation_share: float = 0.2
    # Transfer (core.transfer): start from this checkpoint's layers — "bundled:<stem>" or a file —
    # shown as `init_name`; `freeze` keeps the copied convolution layers fixed (only the
    # classifier learns).
    init_from: str | None = None
    init_name: str | None = None
    freeze: bool = False
    # Durable runs (branch durable): a file where the run writes its epoch checkpoint at each epoch
    # end (core.train_state) and, when it exists at the start, continues from it. Set by the job
    # manager on the copy of the config it hands a backend, never on the config a page shows.
    epoch_state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ConfigError(ValueError):
    """A training setting that cannot work, explained in one sentence."""


def config_from_preset(name: str, **overrides) -> TrainConfig:
    """A config with the preset's architecture and recipe, then `overrides` on top."""
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset '{name}'; choose one of: {', '.join(PRESETS)}.")
    preset = PRESETS[name]
    values = {"spec": preset.spec(), "preset": name, **preset.recipe}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**values)


def _finite(value, low: float, high: float, low_inclusive: bool = True) -> bool:
    """A real number (not a bool, not NaN/inf) within [low, high] (or (low, high])."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return False
    return (low <= value if low_inclusive else low < value) and value <= high


def _whole(value, low: int, high: int) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return False
    return value == int(value) and low <= value <= high


DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


def check_device(name) -> None:
    """ConfigError unless `name` is auto/cpu/cuda[:n]/mps and that device exists here."""
    base, _, index = str(name).partition(":")
    if not isinstance(name, str) or base not in DEVICE_NAMES or (index and not index.isdigit()) \
            or (index and base not in ("cuda",)) or len(name) > 12:
        raise ConfigError(f"Unknown device '{str(name)[:40]}'; use one of {', '.join(DEVICE_NAMES)}.")
    if base not in ("cuda", "mps"):
        return
    import torch  # only to ask whether an accelerator exists

    if base == "cuda" and (not torch.cuda.is_available() or int(index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"The device '{name}' is not available on this machine; use auto or cpu.")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("The device 'mps' is not available on this machine; use auto or cpu.")


def check_config(config: TrainConfig, num_classes: int = 10, limits: Limits | None = None) -> None:
    """Raise ConfigError / SpecError / LimitError for settings that cannot (or may not) train.

    `limits` defaults to this server's (core.limits.current()): training is limited wherever it
    is started from; only the command line's --no-limits passes Limits.none().
    """
    if not _whole(config.batch_size, 1, 8192):
        raise ConfigError(f"The batch size must be a whole number between 1 and 8192, not {config.batch_size}.")
    check_spec(config.spec, INPUT_SHAPE, num_classes, int(config.batch_size), limits)
    if config.optimizer not in OPTIMIZERS:
        raise ConfigError(f"Unknown optimizer '{config.optimizer}'; use one of {', '.join(OPTIMIZERS)}.")
    if config.scheduler not in SCHEDULERS:
        raise ConfigError(f"Unknown scheduler '{config.scheduler}'; use one of {', '.join(SCHEDULERS)}.")
    if not learning_rate_ok(config.lr):
        raise ConfigError(f"The learning rate must be a number above 0 and at most 10 (e.g. 0.001), not {config.lr}.")
    if not _whole(config.epochs, 1, 1000):
        raise ConfigError(f"The number of epochs must be a whole number between 1 and 1000, not {config.epochs}.")
    if not _finite(config.fraction, 0, 1, low_inclusive=False):
        raise ConfigError(f"The data fraction must be above 0 and at most 1 (e.g. 0.1), not {config.fraction}.")
    if not _finite(config.weight_decay, 0, 1):
        raise ConfigError(f"The weight decay must be between 0 and 1 (e.g. 0.0005), not {config.weight_decay}.")
    if not _finite(config.label_smoothing, 0, 1) or config.label_smoothing >= 1:
        raise ConfigError(f"Label smoothing must be at least 0 and below 1 (e.g. 0.1), not {config.label_smoothing}.")
    if not _finite(config.momentum, 0, 1) or config.momentum >= 1:
        raise ConfigError(f"The momentum must be at least 0 and below 1 (e.g. 0.9), not {config.momentum}.")
    if not _whole(config.log_every, 1, 10**9):
        raise ConfigError(f"Steps between step events must be a whole number of at least 1, not {config.log_every}.")
    if not _whole(config.seed, 0, 2**32 - 1):
        raise ConfigError(f"The seed must be a whole number between 0 and {2**32 - 1}, not {config.seed}.")
    if not isinstance(config.augment, bool):
        raise ConfigError(f"augment must be true or false, not {config.augment!r}.")
    check_device(config.device)
    holdout = config.calibration_holdout
    if isinstance(holdout, bool) or not isinstance(holdout, int) or not 0 <= holdout <= 100_000:
        raise ConfigError("The calibration hold-out must be a whole number of images from 0 to 100,000 "
                          f"(e.g. 5000), not {holdout}.")
    check_custom_data(config, num_classes)
    check_transfer(config)
    if config.epoch_state is not None and not (isinstance(config.epoch_state, str) and 0 < len(config.epoch_state) <= 4096):
        raise ConfigError("The epoch checkpoint must be named by a file path.")


MAX_CLASS_NAME = 40


def check_custom_data(config: TrainConfig, num_classes: int) -> None:
    """Class names and the validation share of a run on your own classes."""
    classes = config.classes
    if config.dataset == "custom" or classes is not None:
        if not (isinstance(classes, (list, tuple)) and all(isinstance(c, str) and 0 < len(c) <= MAX_CLASS_NAME
                                                            for c in classes)):
            raise ConfigError("A run on your own classes needs their names (texts of 1 to "
                              f"{MAX_CLASS_NAME} characters).")
        if len(classes) != num_classes:
            raise ConfigError(f"The settings name {len(classes)} classes but the data has {num_classes}.")
        if len({c.casefold() for c in classes}) != len(classes):
            raise ConfigError("Two classes have the same name; give every class its own name.")
    if not _finite(config.validation_share, 0, 0.5, low_inclusive=False):
        raise ConfigError("The validation share must be above 0 and at most 0.5 (e.g. 0.2), "
                          f"not {config.validation_share}.")
    if config.data_folder is not None and not isinstance(config.data_folder, str):
        raise ConfigError("The data folder must be a folder name.")


def check_transfer(config: TrainConfig) -> None:
    if config.init_from is not None and not (isinstance(config.init_from, str) and 0 < len(config.init_from) <= 4096):
        raise ConfigError("The model to start from must be named by a text.")
    if config.init_name is not None and not isinstance(config.init_name, str):
        raise ConfigError("The name of the model to start from must be a text.")
    if not isinstance(config.freeze, bool):
        raise ConfigError(f"freeze must be true or false, not {config.freeze!r}.")
    if config.freeze and not config.init_from:
        raise ConfigError("Freezing the convolutions needs a trained model to start from; choose one "
                          "or train every layer.")
