"""Server limits: what one visitor may ask of a shared server, checked before anything is built.

A public CNN Lab link is shared by a class on one small machine, so every request that costs memory
or CPU is measured against a limit *before* the cost is paid: a model spec's parameters,
multiply-adds and activation memory are computed arithmetically from its shapes (no tensor is
allocated, no model built); images are measured from their headers before decoding; checkpoint
uploads by their size and header.

Every limit has an environment variable (README, "Settings"; read by core.settings); `current()`
applies them, so a hosted
server is configured without code. The command line applies the same limits unless the local
user passes `--no-limits` (`Limits.none()`).

`spec_figures` returns each measured figure with its limit, so a page can show
"870 M multiply-adds per image — this server allows 50 M" (i18n keys `train.limit_<key>`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from core import settings
from core.models import INPUT_SHAPE, ModelSummary, Shape, SpecError, normalize_layer, summary

MB = 1024 * 1024

# Bytes of one float32 activation; training keeps each layer's output for the backward pass and
# computes a gradient of the same size, hence the factor 2.
_BYTES_PER_VALUE = 4
_TRAINING_FACTOR = 2


@dataclass(frozen=True)
class Limits:
    """Every cap a server applies; None = no cap (the CLI's --no-limits)."""

    max_params: int | None = 2_000_000              # 8 MB of float32 weights
    max_mult_adds: int | None = 50_000_000          # per image; the fast preset needs 1.4 M
    max_activation_bytes: int | None = 1024 * MB    # per training batch, estimated from the spec
    max_layers: int | None = 40
    max_kernel: int | None = 28                     # the input is 28×28; also caps the stride
    max_padding: int | None = 14
    max_models: int | None = 20                     # saved models per workspace
    max_workspace_bytes: int | None = 100 * MB      # disk used by one workspace's saved models
    max_image_bytes: int | None = 20 * MB           # an uploaded image file
    max_image_pixels: int | None = 4096 * 4096      # decoded pixels (width × height)
    max_checkpoint_bytes: int | None = 32 * MB      # an uploaded checkpoint file

    @classmethod
    def none(cls) -> "Limits":
        return cls(**{f.name: None for f in fields(cls)})


# The variables (CNN_LAB_MAX_*) are read by core.settings, like every other setting.
ENV_VARS = settings.LIMIT_VARS
LimitConfigError = settings.SettingsError  # the old name of a limit variable's error


def current(environ: dict[str, str] | None = None) -> Limits:
    """The limits this server applies: the defaults, overridden by CNN_LAB_MAX_* variables
    (SettingsError for a value that is not a positive number)."""
    return replace(Limits(), **settings.limit_overrides(environ))


class LimitError(SpecError):
    """A request over one of this server's limits; str() is one English sentence.

    `key` names the figure ("params", "mult_adds", "activation_bytes", "layers", "kernel",
    "padding", "stride", "models", "workspace_bytes", "image_bytes", "image_pixels",
    "checkpoint_bytes"); `value` and `limit` are the numbers, `details` the formatted ones for
    the i18n key `train.limit_<key>`.
    """

    def __init__(self, key: str, value: int, limit: int, where: str = ""):
        self.key, self.value, self.limit, self.where = key, value, limit, where
        self.details = {"value": format_figure(key, value), "limit": format_figure(key, limit)}
        sentence = MESSAGES[key].format(**self.details)
        super().__init__(f"{where}: {sentence}" if where else sentence)


# English sentences; the same texts (with {value}/{limit}) are in assets/i18n/*/train.json.
MESSAGES = {
    "params": "{value} parameters — this server allows {limit}; use fewer channels or a smaller linear layer.",
    "mult_adds": "{value} multiply-adds per image — this server allows {limit}; use fewer channels, a larger stride or pooling earlier.",
    "activation_bytes": "{value} of activations per training batch — this server allows {limit}; use a smaller batch, fewer channels or pooling earlier.",
    "layers": "{value} layers — this server allows {limit}.",
    "kernel": "kernel {value} — this server allows at most {limit}.",
    "stride": "stride {value} — this server allows at most {limit}.",
    "padding": "padding {value} — this server allows at most {limit}.",
    "models": "{value} saved models — this server keeps at most {limit} per workspace; delete one first.",
    "workspace_bytes": "{value} of saved models — this server keeps at most {limit} per workspace; delete a model first.",
    "image_bytes": "the file is {value} — this server accepts images of at most {limit}.",
    "image_pixels": "the image has {value} pixels — this server decodes at most {limit}.",
    "checkpoint_bytes": "the file is {value} — this server accepts checkpoints of at most {limit}.",
}
_BYTE_KEYS = {"activation_bytes", "workspace_bytes", "image_bytes", "checkpoint_bytes"}


def format_count(n: int) -> str:
    """870 M, 1.4 M, 50 k, 999: short enough for a sentence, exact enough to compare."""
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= size:
            x = n / size
            return f"{x:.3g} {unit}" if x < 1000 else f"{x:,.0f} {unit}"
    return str(n)


def format_bytes(n: int) -> str:
    for size, unit in ((2**30, "GB"), (MB, "MB"), (1024, "KB")):
        if n >= size:
            x = n / size
            return f"{x:.3g} {unit}" if x < 1000 else f"{x:,.0f} {unit}"
    return f"{n} bytes"


_EXACT_KEYS = {"layers", "kernel", "stride", "padding", "models"}


def format_figure(key: str, n: int) -> str:
    if key in _BYTE_KEYS:
        return format_bytes(n)
    return f"{n:,}" if key in _EXACT_KEYS else format_count(n)


@dataclass(frozen=True)
class Figure:
    """One measured figure of a spec and the limit that caps it (None = no cap)."""

    key: str
    value: int
    limit: int | None

    @property
    def ok(self) -> bool:
        return self.limit is None or self.value <= self.limit

    @property
    def details(self) -> dict[str, str]:
        """Formatted numbers for the i18n keys `train.limit_figure` / `train.limit_<key>`."""
        return {"value": format_figure(self.key, self.value),
                "limit": "—" if self.limit is None else format_figure(self.key, self.limit)}


def activation_values(model: ModelSummary) -> int:
    """float values one image keeps alive in a forward pass: the input and every layer's output."""
    total = math.prod(model.input_shape)
    for layer in model.layers:
        total += math.prod(layer.output_shape)
    return total


def activation_bytes(model: ModelSummary, batch_size: int) -> int:
    """Estimated activation memory of one training step (forward values + their gradients)."""
    return activation_values(model) * _BYTES_PER_VALUE * _TRAINING_FACTOR * max(1, int(batch_size))


EVAL_BATCH = 1000   # the test set is evaluated this many images at a time, at most


def evaluation_batch(model: ModelSummary, limits: "Limits | None" = None, cap: int = EVAL_BATCH) -> int:
    """How many images one evaluation batch may hold: the largest batch whose estimated activation
    memory (the training estimate, see `activation_bytes`: the margin covers oneDNN's layout copies)
    fits this server's activation limit, at most `cap` and at least 1. A spec the limit accepts for
    training can have 16 MB of activations per image; 1,000 of them at once took 9 GB (issue 23)."""
    limits = current() if limits is None else limits
    if limits.max_activation_bytes is None:
        return cap
    per_image = activation_bytes(model, 1)
    # A fifth of the budget is left for the allocator's rounding, oneDNN's scratch, the logits and
    # the batch's copy: at the full budget a 256 MB limit measured 261 MB, at nine tenths 256.6 MB
    # on another machine (tests/eval_memory_probe.py).
    return max(1, min(cap, int(limits.max_activation_bytes * 0.8) // max(per_image, 1)))


def _check_structure(spec: Any, limits: Limits, input_shape: Shape, num_classes: int | None):
    """The normalized layers and their summary, after the checks that need no cost figures.

    The layer count comes first (so a million-layer spec is not walked); then each value's type
    and size (normalize_layer: finite whole numbers below 10⁹, so shape arithmetic stays cheap);
    then the shapes, whose errors explain more than a limit would ("the 28×28 input is smaller
    than the 30×30 kernel"); then kernel, stride and padding against this server's limits.
    """
    if not isinstance(spec, (list, tuple)):
        raise SpecError(f"A model is a list of layers, not {type(spec).__name__}.")
    if limits.max_layers is not None and len(spec) > limits.max_layers:
        raise LimitError("layers", len(spec), limits.max_layers)
    layers = [normalize_layer(layer, i) for i, layer in enumerate(spec)]
    model = summary(layers, input_shape, num_classes)
    for i, layer in enumerate(layers):
        where = f"Layer {i + 1} ({layer['type']})"
        for key, cap in (("kernel", limits.max_kernel), ("stride", limits.max_kernel),
                         ("padding", limits.max_padding)):
            if cap is not None and layer.get(key) is not None and layer[key] > cap:
                raise LimitError(key, layer[key], cap, where)
    return layers, model


def _figures(layers: list[dict], model: ModelSummary, batch_size: int, limits: Limits) -> list[Figure]:
    def biggest(key):
        return max((layer[key] for layer in layers if layer.get(key) is not None), default=0)

    return [
        Figure("params", model.total_params, limits.max_params),
        Figure("mult_adds", model.total_mult_adds, limits.max_mult_adds),
        Figure("activation_bytes", activation_bytes(model, batch_size), limits.max_activation_bytes),
        Figure("layers", len(layers), limits.max_layers),
        Figure("kernel", biggest("kernel"), limits.max_kernel),
        Figure("padding", biggest("padding"), limits.max_padding),
    ]


def spec_figures(spec: Any, input_shape: Shape = INPUT_SHAPE, num_classes: int | None = 10,
                 batch_size: int = 1, limits: Limits | None = None) -> list[Figure]:
    """Each cost figure of a spec with its limit (for the summary), without raising LimitError
    for the cost figures; SpecError when the spec cannot be built at all."""
    limits = current() if limits is None else limits
    structural = replace(Limits.none(), max_layers=limits.max_layers, max_kernel=limits.max_kernel,
                         max_padding=limits.max_padding)
    layers, model = _check_structure(spec, structural, input_shape, num_classes)
    return _figures(layers, model, batch_size, limits)


def check_spec(spec: Any, input_shape: Shape = INPUT_SHAPE, num_classes: int | None = 10,
               batch_size: int = 1, limits: Limits | None = None) -> ModelSummary:
    """The spec's summary, or SpecError / LimitError (the first figure over its limit).

    Order matters (see _check_structure); the costs are computed from shapes alone, so nothing
    is allocated here.
    """
    limits = current() if limits is None else limits
    layers, model = _check_structure(spec, limits, input_shape, num_classes)
    for figure in _figures(layers, model, batch_size, limits):
        if not figure.ok:
            raise LimitError(figure.key, figure.value, figure.limit)
    return model


def check_size(key: str, size: int, limits: Limits | None = None) -> None:
    """LimitError when an upload's size (`image_bytes`, `checkpoint_bytes`, …) is over its limit."""
    limits = current() if limits is None else limits
    cap = getattr(limits, f"max_{key}")
    if cap is not None and size > cap:
        raise LimitError(key, size, cap)


__all__ = ["Limits", "LimitError", "LimitConfigError", "Figure", "ENV_VARS", "MESSAGES", "current",
           "check_spec", "spec_figures", "check_size", "activation_bytes", "evaluation_batch", "EVAL_BATCH", "format_count",
           "format_bytes", "format_figure"]
