"""Every layer type a model spec may use, one registry entry each.

An entry says everything the rest of the project needs to know about a type: its parameters and
their defaults (core.models checks and fills them), what a new row in the Train page's layer
table starts with (core.editor), how it changes a shape and what it costs (core.models.summary),
the PyTorch module it becomes (core.models.build_model), and how it relates input to output
positions and channels (core.features: receptive fields, which conv a channel comes from).
Adding a layer type means adding one entry to LAYER_TYPES.

PyTorch is imported only when a module is built (`_nn()`), so checking a spec or a server limit
(core.models.summary, core.limits) never loads it: tests/test_architecture.py holds this.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, load_catalog, translate

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int, ...]
Layer = dict[str, Any]


class SpecError(ValueError):
    """An architecture that cannot be built, explained in one sentence naming the layer."""


@dataclass(frozen=True)
class Cost:
    """What one layer does to its input: the output shape, its parameters and multiply-adds."""
    shape: Shape
    params: int = 0
    params_formula: str = "0"
    mult_adds: int = 0


@dataclass(frozen=True)
class LayerType:
    name: str                                   # the spec's "type"
    short: str                                  # label prefix: conv1, pool2, fc1
    params: dict[str, Any]                      # parameter -> default (None = required)
    describe: Callable[[Layer], str]            # 'conv 32, 3×3, stride 1, pad 1'
    apply: Callable[[Layer, Shape, str], Cost]  # (normalized layer, input shape, "Layer 3 (…)")
    build: Callable[[Layer, Shape], nn.Module]  # (normalized layer, input shape)
    new_row: dict[str, Any] = field(default_factory=dict)  # the editor's values for a new row
    window: bool = False       # looks at a k×k window (kernel, stride, padding): grows the receptive field
    channelwise: bool = False  # output channel c depends on input channel c only
    needs_map: bool = False    # needs a [C, H, W] input (comes before flatten)


def _nn():
    """torch.nn, imported when a module is built (not when a spec is checked)."""
    from torch import nn

    return nn


def _fmt(n: int) -> str:
    return f"{n:,}"


def _conv(layer: Layer, shape: Shape, where: str) -> Cost:
    c, h, w = shape
    k, s, p = layer["kernel"], layer["stride"], layer["padding"]
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    if h + 2 * p < k or w + 2 * p < k or oh < 1 or ow < 1:
        raise SpecError(f"{where}: the {h}×{w} input (padding {p}) is smaller than the "
                        f"{k}×{k} kernel, so no output is left; use a smaller kernel, "
                        "more padding or fewer pooling layers before it.")
    o = layer["out"]
    params = o * c * k * k + o
    return Cost((o, oh, ow), params, f"{o}×{c}×{k}×{k} + {o} = {_fmt(params)}", o * oh * ow * c * k * k)


def _pool(layer: Layer, shape: Shape, where: str) -> Cost:
    c, h, w = shape
    k, s = layer["kernel"], layer["stride"]
    if h < k or w < k:
        raise SpecError(f"{where}: the {h}×{w} feature map is smaller than the {k}×{k} "
                        "window; remove this pooling layer or an earlier one.")
    return Cost((c, (h - k) // s + 1, (w - k) // s + 1))


def _batchnorm(layer: Layer, shape: Shape, where: str) -> Cost:
    c = shape[0]
    return Cost(shape, 2 * c, f"2×{c} = {_fmt(2 * c)}")


def _flatten(layer: Layer, shape: Shape, where: str) -> Cost:
    n = 1
    for s in shape:
        n *= s
    return Cost((n,))


def _linear(layer: Layer, shape: Shape, where: str) -> Cost:
    if len(shape) == 3:
        raise SpecError(f"{where} needs a flat input but gets a {shape[0]}×{shape[1]}×"
                        f"{shape[2]} feature map; add a flatten layer before it.")
    n_in, n_out = shape[0], layer["out"]
    params = n_in * n_out + n_out
    return Cost((n_out,), params, f"{n_in}×{n_out} + {n_out} = {_fmt(params)}", n_in * n_out)


def _same(layer: Layer, shape: Shape, where: str) -> Cost:
    return Cost(shape)


def _pool_describe(layer: Layer) -> str:
    return f"{layer['type']} {layer['kernel']}×{layer['kernel']}, stride {layer['stride']}"


def _batchnorm_module(layer: Layer, shape: Shape) -> nn.Module:
    nn = _nn()
    return (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0])


_POOL_PARAMS = {"kernel": 2, "stride": None}  # stride None = same as kernel, as in PyTorch
_POOL_ROW = {"kernel": 2, "stride": 2}

LAYER_TYPES: dict[str, LayerType] = {lt.name: lt for lt in [
    LayerType(
        "conv", "conv", {"out": None, "kernel": 3, "stride": 1, "padding": 0},
        lambda x: f"conv {x['out']}, {x['kernel']}×{x['kernel']}, stride {x['stride']}, pad {x['padding']}",
        _conv, lambda x, s: _nn().Conv2d(s[0], x["out"], x["kernel"], x["stride"], x["padding"]),
        new_row={"out": 16, "kernel": 3, "stride": 1, "padding": 1}, window=True, needs_map=True),
    LayerType("relu", "relu", {}, lambda x: "relu", _same, lambda x, s: _nn().ReLU(), channelwise=True),
    LayerType("maxpool", "pool", dict(_POOL_PARAMS), _pool_describe, _pool,
              lambda x, s: _nn().MaxPool2d(x["kernel"], x["stride"]), new_row=dict(_POOL_ROW),
              window=True, channelwise=True, needs_map=True),
    LayerType("avgpool", "avgpool", dict(_POOL_PARAMS), _pool_describe, _pool,
              lambda x, s: _nn().AvgPool2d(x["kernel"], x["stride"]), new_row=dict(_POOL_ROW),
              window=True, channelwise=True, needs_map=True),
    LayerType("batchnorm", "bn", {}, lambda x: "batchnorm", _batchnorm, _batchnorm_module, channelwise=True),
    LayerType("dropout", "dropout", {"p": 0.5}, lambda x: f"dropout p={x['p']:g}", _same,
              lambda x, s: _nn().Dropout(x["p"]), new_row={"p": 0.25}, channelwise=True),
    LayerType("flatten", "flatten", {}, lambda x: "flatten", _flatten, lambda x, s: _nn().Flatten()),
    LayerType("linear", "fc", {"out": None}, lambda x: f"linear → {x['out']}", _linear,
              lambda x, s: _nn().Linear(s[0], x["out"]), new_row={"out": 10}),
]}

# Every parameter any type has, in table-column order (the Train page's layer table).
PARAM_NAMES: tuple[str, ...] = tuple(dict.fromkeys(p for lt in LAYER_TYPES.values() for p in lt.params))
FLOAT_PARAMS = frozenset({"p"})  # the others are whole numbers


# --------------------------------------------------------------------------- names in the UI's language
# The describers above are the English the CLI and error messages use. The pages show layers in
# the visitor's language from the catalog assets/i18n/<lang>/layers.json: "layers.type.<type>"
# (the table's type column), "layers.short.<short>" (label prefixes: conv2 → 卷积2) and
# "layers.describe.<type>" (a template over the layer's parameters; types without parameters
# are described by their name alone). English templates give exactly the describers' text.

def type_name(kind: str, lang: str) -> str:
    """A layer type as the visitor reads it: 'maxpool' → '最大池化' in Chinese."""
    return translate(lang, f"layers.type.{kind}")


def describe(layer: Layer, lang: str) -> str:
    """One-line description of a normalized layer in `lang`, e.g. '卷积 16，5×5，步幅 2，填充 0'."""
    kind = layer["type"]
    key = f"layers.describe.{kind}"
    if key not in load_catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE):
        return type_name(kind, lang)
    values = {k: f"{v:g}" if k in FLOAT_PARAMS else v for k, v in layer.items() if k != "type"}
    return translate(lang, key, type=type_name(kind, lang), **values)


_SHORTS = {lt.short for lt in LAYER_TYPES.values()}
# What core.models says where no layer is meant (flatten_explanation's source and receiver).
_PHRASES = {"the input": "layers.the_input", "the next layer": "layers.the_next_layer"}


def localize_label(label: str, lang: str) -> str:
    """A layer label (core.models.layer_label: short name + count, 'conv2', 'fc1') in `lang`:
    '卷积2', '全连接1'. Labels travel as strings (summaries, feature-map snapshots, checkpoints'
    layer outputs), so the page translates them where it shows them; anything else is kept."""
    if label in _PHRASES:
        return translate(lang, _PHRASES[label])
    match = re.fullmatch(r"([a-z]+)(\d+)", label)
    if match is None or match[1] not in _SHORTS:
        return label
    return f"{translate(lang, f'layers.short.{match[1]}')}{match[2]}"
