"""Feature snapshots: the probe image's feature maps, recorded before training and after every
epoch, so a learner can watch features form. Both backends take them through one loop
(`events_with_snapshots`), while the run's generator is paused, so the pictures never change
training."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch

from core.data import Dataset

PROBE_INDEX = 0  # the fixed test image whose feature maps are recorded (MNIST: a 7)


@dataclass
class LayerMaps:
    index: int            # spec position
    name: str             # "conv1", "relu1", "pool1", …
    kind: str
    maps: np.ndarray      # float16 [C, H, W]


@dataclass
class FeatureSnapshot:
    """Feature maps of the probe image at the end of an epoch (epoch 0: before training)."""
    epoch: int
    step: int
    layers: list[LayerMaps]
    probabilities: np.ndarray   # softmax of the model's output for the probe image


def capture_features(model: torch.nn.Module, spec: list, image: torch.Tensor, epoch: int,
                     step: int) -> FeatureSnapshot:
    """Every spatial layer's output for one normalized image [1, 1, H, W], copied off the model.

    Leaves the model in eval mode; TrainingRun puts it back into train mode at each epoch start.
    """
    from core.features import layer_outputs

    outs = layer_outputs(model, spec, image)
    layers = [LayerMaps(o.index, o.name, o.kind, o.output.detach().cpu().numpy().astype(np.float16))
              for o in outs if o.output.dim() == 3]
    probs = torch.softmax(outs[-1].output.detach().double().cpu(), 0).numpy()
    return FeatureSnapshot(epoch, step, layers, probs)


def _snapshot(model: Any, spec: list, probe: torch.Tensor, epoch: int, step: int) -> FeatureSnapshot | None:
    if not isinstance(model, torch.nn.Sequential):
        return None
    try:
        device = next(model.parameters()).device
        return capture_features(model, spec, probe.to(device), epoch, step)
    except Exception:  # noqa: BLE001 — pictures are a bonus; never fail the run for them
        return None


def events_with_snapshots(run: Any, data: Dataset, spec: list, probe_index: int
                          ) -> Iterator[tuple[dict[str, Any], FeatureSnapshot | None]]:
    """(event, snapshot or None) pairs from a run: a snapshot is taken at "start" and after each
    "epoch", while the generator is paused and the model is not mid-update, so the pictures never
    change training. Both backends use this one loop."""
    probe = data.normalized(data.test_images[probe_index:probe_index + 1])
    for event in run.events():
        kind = event.get("event")
        snap = None
        if kind in ("start", "epoch"):
            snap = _snapshot(run.model, spec, probe, 0 if kind == "start" else int(event["epoch"]),
                             int(event.get("step", 0)))
        yield event, snap
