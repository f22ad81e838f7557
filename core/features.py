"""What a model computes inside: every layer's output for one input.

Models are nn.Sequential built from a spec (core.models), so child i is spec layer i and running
the children one by one gives each layer's activation without hooks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.models import Spec, layer_label


@dataclass
class LayerOutput:
    index: int          # spec / nn.Sequential position
    name: str           # "conv1", "relu2", "fc1", …
    kind: str           # spec layer type
    output: torch.Tensor  # [C, H, W] for feature maps, [F] for flat layers (batch dim removed)


@torch.no_grad()
def layer_outputs(model: nn.Sequential, spec: Spec, x: torch.Tensor) -> list[LayerOutput]:
    """Every layer's output for a single normalized input x of shape [1, C, H, W] (or [C, H, W])."""
    model.eval()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    outputs = []
    for i, module in enumerate(model):
        x = module(x)
        outputs.append(LayerOutput(i, layer_label(spec, i), spec[i]["type"], x[0].detach().clone()))
    return outputs
