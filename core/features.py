"""What a model computes inside: every layer's output, receptive fields, saliency, filter weights.

Models are nn.Sequential built from a spec (core.models), so child i is spec layer i and running
the children one by one gives each layer's activation without hooks.

Everything here works on one input at a time and leaves the (possibly shared, cached) model
untouched: activations run under no_grad, and saliency uses torch.autograd.grad, which never
writes the parameters' .grad fields, so several sessions can probe one model at once.
"""
from __future__ import annotations

import copy
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.layers import LAYER_TYPES
from core.models import INPUT_SHAPE, Shape, Spec, layer_label, normalize_layer

# --------------------------------------------------------------------------- inference thread

_worker: ThreadPoolExecutor | None = None
_worker_lock = threading.Lock()
_in_worker = threading.local()


def _start_worker() -> ThreadPoolExecutor:
    """A one-thread executor whose torch ops use a single intra-op thread.

    Why: the models here are tiny (a forward pass is ~1 ms of arithmetic), but torch's default
    OpenMP pool has one thread per core, and on a small, busy machine (a training run on the
    Train page, other users) the pool's threads wait for each other: measured on 2 cores under
    load, one canvas update took 29 ms median / 88 ms p95 with the default pool and 6 / 21 ms on
    this worker. The thread count is per thread in torch's OpenMP backend, except that threads
    started later copy the last value set, so the caller's value is put back right away and
    training threads keep all cores.
    """
    previous = torch.get_num_threads()
    ready = threading.Event()

    def init() -> None:
        torch.get_num_threads()      # let torch initialise this thread's pool before resizing it
        torch.set_num_threads(1)
        _in_worker.active = True
        ready.set()

    executor = ThreadPoolExecutor(1, thread_name_prefix="cnn-lab-inference", initializer=init)
    executor.submit(lambda: None).result()
    ready.wait()
    torch.set_num_threads(previous)  # threads started from now on get the normal pool again
    return executor


def run_inference(fn, *args, **kwargs):
    """fn(*args, **kwargs) on the shared single-threaded inference worker; returns its result
    (exceptions propagate). Calls from inside the worker run directly, so nesting can't deadlock.
    Requests from several sessions queue up; each takes a few milliseconds."""
    global _worker
    if getattr(_in_worker, "active", False):
        return fn(*args, **kwargs)
    if _worker is None:
        with _worker_lock:
            if _worker is None:
                _worker = _start_worker()
    return _worker.submit(fn, *args, **kwargs).result()


SCALE_MODES = ("map", "layer", "global")  # colour scale per feature map, per layer, whole network


@dataclass
class LayerOutput:
    index: int          # spec / nn.Sequential position
    name: str           # "conv1", "relu2", "fc1", …
    kind: str           # spec layer type
    output: torch.Tensor  # [C, H, W] for feature maps, [F] for flat layers (batch dim removed)

    @property
    def spatial(self) -> bool:
        return self.output.dim() == 3


def for_inference(model: nn.Module) -> nn.Module:
    """The model in eval mode (batch norm uses its running statistics, dropout is off) without
    switching a model that is in training mode, which someone may be training right now: that
    one is copied instead (a snapshot of its current weights)."""
    return copy.deepcopy(model).eval() if model.training else model


@torch.no_grad()
def layer_outputs(model: nn.Sequential, spec: Spec, x: torch.Tensor) -> list[LayerOutput]:
    """Every layer's output for a single normalized input x of shape [1, C, H, W] (or [C, H, W]).

    The last entry is the logits. Each output is a view of the activation the next layer
    consumed (no copy is needed: layers here never modify their input in place).
    """
    model = for_inference(model)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    outputs = []
    for i, module in enumerate(model):
        x = module(x)
        outputs.append(LayerOutput(i, layer_label(spec, i), spec[i]["type"], x[0]))
    return outputs


def probabilities(outputs: list[LayerOutput], temperature: float = 1.0) -> np.ndarray:
    """Softmax of the last layer's output (the logits) divided by `temperature`, as float64 NumPy.

    Pass the checkpoint's fitted temperature (`Checkpoint.temperature`) for calibrated
    probabilities; 1.0 is the raw softmax.
    """
    return torch.softmax(outputs[-1].output.double() / float(temperature), 0).numpy()


# --------------------------------------------------------------------------- receptive field

@dataclass(frozen=True)
class ReceptiveField:
    """The input pixels one position of a feature map depends on.

    `top`, `left`, `bottom`, `right` bound the region in input pixels (bottom/right exclusive),
    already clipped to the image: padding contributes zeros, not pixels. `full_height` and
    `full_width` are the theoretical receptive-field size (as in core.models.summary), which is
    larger than the clipped region near the border. When every stride is at most its kernel
    size (true for all presets) every pixel in the box matters; otherwise it is a bounding box.
    """
    layer: int
    row: int
    col: int
    top: int
    left: int
    bottom: int
    right: int
    full_height: int
    full_width: int
    jump: int   # input pixels between neighbouring positions of this layer (stride product)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def clipped(self) -> bool:
        return (self.height, self.width) != (self.full_height, self.full_width)

    def mask(self, shape: tuple[int, int] = INPUT_SHAPE[1:]) -> np.ndarray:
        """Boolean [H, W] image, True inside the region."""
        m = np.zeros(shape, dtype=bool)
        m[self.top:self.bottom, self.left:self.right] = True
        return m


def spatial_shapes(spec: Spec, input_shape: Shape = INPUT_SHAPE) -> list[Shape]:
    """Input shape followed by each layer's output shape (same walk as models.summary)."""
    from core.models import summary

    return [tuple(input_shape)] + [r.output_shape for r in summary(spec, input_shape, None).layers]


def receptive_field(spec: Spec, layer: int, row: int, col: int,
                    input_shape: Shape = INPUT_SHAPE) -> ReceptiveField:
    """Region of the input that output position (row, col) of spec layer `layer` depends on.

    Walks back from the layer to the input: a window layer with kernel k, stride s and padding p
    maps output rows [a, b] to input rows [a·s − p, b·s − p + k − 1]. The interval is clipped to
    each layer's input at every step, because positions in the padding depend on no pixel (so
    rows that a floor-rounding pooling never reads are correctly excluded).
    """
    layers = [normalize_layer(raw, i) for i, raw in enumerate(spec)]
    shapes = spatial_shapes(layers, input_shape)
    if not 0 <= layer < len(layers):
        raise ValueError(f"Layer {layer} does not exist; the model has {len(layers)} layers.")
    out_shape = shapes[layer + 1]
    if len(out_shape) != 3:
        raise ValueError(f"Layer {layer + 1} ({layer_label(layers, layer)}) is flat: every output "
                         "depends on the whole input, so it has no receptive-field region.")
    _, h, w = out_shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"Position ({row}, {col}) is outside the {h}×{w} map of "
                         f"{layer_label(layers, layer)}.")
    r0, r1, c0, c1 = row, row, col, col          # inclusive interval in the current layer
    full_r0, full_r1, full_c0, full_c1 = row, row, col, col  # unclipped, for the theoretical size
    jump = 1
    for i in range(layer, -1, -1):
        spec_i = layers[i]
        if not LAYER_TYPES[spec_i["type"]].window:
            continue
        k, s, p = spec_i["kernel"], spec_i["stride"], spec_i.get("padding", 0)
        _, in_h, in_w = shapes[i]
        r0, r1 = max(0, r0 * s - p), min(in_h - 1, r1 * s - p + k - 1)
        c0, c1 = max(0, c0 * s - p), min(in_w - 1, c1 * s - p + k - 1)
        full_r0, full_r1 = full_r0 * s - p, full_r1 * s - p + k - 1
        full_c0, full_c1 = full_c0 * s - p, full_c1 * s - p + k - 1
        jump *= s
    return ReceptiveField(layer, row, col, r0, c0, r1 + 1, c1 + 1,
                          full_r1 - full_r0 + 1, full_c1 - full_c0 + 1, jump)


def input_gradient(model: nn.Sequential, x: torch.Tensor, layer: int, channel: int,
                   row: int | None = None, col: int | None = None) -> np.ndarray:
    """d(output of `layer`, channel, row, col) / d(input), summed over input channels: [H, W].

    For a flat layer leave row/col None (`channel` is then the unit index). Used by the tests to
    check `receptive_field` and available to the UI as the "effective" receptive field.
    """
    model = for_inference(model)
    x = (x.unsqueeze(0) if x.dim() == 3 else x).detach().clone().requires_grad_(True)
    y = x
    with torch.enable_grad():
        for i, module in enumerate(model):
            y = module(y)
            if i == layer:
                break
    target = y[0, channel] if row is None else y[0, channel, row, col]
    (grad,) = torch.autograd.grad(target, x)
    return grad[0].sum(0).numpy()


# --------------------------------------------------------------------------- saliency

@dataclass
class Saliency:
    gradient: np.ndarray   # [H, W] d(score of target)/d(input pixel), signed
    target: int            # class index the gradient is taken for
    score: float           # that class's logit
    probability: float     # and its softmax probability

    @property
    def magnitude(self) -> np.ndarray:
        """|gradient| scaled to 0..1 (all zeros when the gradient vanishes)."""
        a = np.abs(self.gradient)
        peak = float(a.max())
        return a / peak if peak > 0 else a


def saliency(model: nn.Module, x: torch.Tensor, target: int | None = None,
             temperature: float = 1.0) -> Saliency:
    """Vanilla gradient saliency (Simonyan et al. 2014) of one normalized input [1, C, H, W].

    The gradient is of the class *logit* (the softmax probability saturates for confident
    predictions), with respect to the normalized input; multiply by 1/std for raw pixel units.
    `target` None means the predicted class. Multi-channel inputs are summed to one map.
    `temperature` only affects the reported probability (softmax(logits / T)), not the gradient.
    """
    model = for_inference(model)
    x = (x.unsqueeze(0) if x.dim() == 3 else x).detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)[0]
        cls = int(logits.argmax()) if target is None else int(target)
        if not 0 <= cls < logits.numel():
            raise ValueError(f"Class {cls} does not exist; the model has {logits.numel()} classes.")
        (grad,) = torch.autograd.grad(logits[cls], x)
    prob = float(torch.softmax(logits.detach().double() / float(temperature), 0)[cls])
    return Saliency(grad[0].sum(0).numpy(), cls, float(logits[cls].detach()), prob)


# --------------------------------------------------------------------------- colour scales

def value_ranges(outputs: list[LayerOutput], index: int, mode: str) -> np.ndarray:
    """Per-channel (low, high) colour limits of layer `index` for a colour-scale mode.

    "map": each channel's own min..max (shows every map's pattern, hides their relative
    strength); "layer": one range for the whole layer (channels comparable with each other);
    "global": one range over every layer's output (layers comparable with each other).
    A flat layer counts as a single map. A constant range is widened so it never divides by 0.
    """
    if mode not in SCALE_MODES:
        raise ValueError(f"Unknown colour-scale mode '{mode}'; use one of {', '.join(SCALE_MODES)}.")
    out = outputs[index].output
    maps = out.reshape(out.shape[0], -1) if out.dim() == 3 else out.reshape(1, -1)
    if mode == "map":
        lo, hi = maps.min(1).values.numpy(), maps.max(1).values.numpy()
    else:
        if mode == "layer":
            lo, hi = float(maps.min()), float(maps.max())
        else:
            lo = min(float(o.output.min()) for o in outputs)
            hi = max(float(o.output.max()) for o in outputs)
        lo, hi = np.full(maps.shape[0], lo), np.full(maps.shape[0], hi)
    lo, hi = lo.astype(np.float64), hi.astype(np.float64)
    flat = hi - lo <= 1e-12
    hi = np.where(flat, lo + 1.0, hi)
    return np.stack([lo, hi], 1)


def scale_maps(maps: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """maps [C, H, W] (or [C, N]) mapped channel by channel to 0..1 with `ranges` [C, 2]."""
    maps = np.asarray(maps, dtype=np.float64)
    shape = (-1,) + (1,) * (maps.ndim - 1)
    lo, hi = ranges[:, 0].reshape(shape), ranges[:, 1].reshape(shape)
    return np.clip((maps - lo) / (hi - lo), 0.0, 1.0)


# --------------------------------------------------------------------------- grids and filters

def grid_columns(n: int, max_columns: int = 8) -> int:
    """Columns for a grid of n maps: up to `max_columns`, fewer when n is small."""
    return max(1, min(n, max_columns))


def tile_maps(maps: np.ndarray, columns: int, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """[C, H, W] maps laid out in a grid (row-major) separated by `gap` cells of `fill`.

    Channel c sits at grid row c // columns, column c % columns, its top-left corner at
    ((H + gap)·row, (W + gap)·column). NaN gaps render as empty space in a Plotly heatmap.
    """
    maps = np.asarray(maps, dtype=np.float64)
    c, h, w = maps.shape
    rows = math.ceil(c / columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), fill)
    for i in range(c):
        r, q = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, q * (w + gap):q * (w + gap) + w] = maps[i]
    return out


def source_conv(spec: Spec, index: int) -> int | None:
    """The conv layer whose channel c is channel c of layer `index` (through ReLU, batch norm,
    dropout and pooling), or None when there is none (the input, or after flatten)."""
    for i in range(index, -1, -1):
        kind = spec[i]["type"]
        if kind == "conv":
            return i
        if not LAYER_TYPES[kind].channelwise:
            return None
    return None


def conv_filters(model: nn.Sequential, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(weights [out, in, k, k], bias [out]) of the conv layer at spec position `index`."""
    module = model[index]
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"Layer {index + 1} is a {type(module).__name__}, not a convolution.")
    weight = module.weight.detach().cpu().numpy()
    bias = (module.bias.detach().cpu().numpy() if module.bias is not None
            else np.zeros(weight.shape[0], dtype=weight.dtype))
    return weight, bias
