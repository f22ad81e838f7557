"""Transfer learning: start a new model from a trained model's layers, frozen or fine-tuned.

A model trained on digits has learned strokes, curves and corners in its convolutions; a model
for a learner's own classes can start from them instead of from random numbers, and learn from
far fewer examples (bench/fewshot_bench.py measures how much). The new model has the source's
architecture with the last linear layer resized to the new number of classes (`transfer_spec`);
every layer before that last one is copied. With `freeze`, the feature layers (everything before
flatten) keep the copied weights — not in the optimizer, and their batch norm keeps the source's
statistics — so only the classifier learns; without it everything is fine-tuned.

`TrainConfig.init_from` names the source: "bundled:<stem>" (a model that ships with CNN Lab) or
a checkpoint file (the command line; a page passes the file behind a workspace model). That
value can be a server path, so checkpoints keep only `init_name`, the source's display name
(core.checkpoint.make_metadata drops a path).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from torch import nn

from core.checkpoint import BUNDLED_NAMES, Checkpoint, CheckpointError, checkpoint_dir, load_checkpoint
from core.limits import Limits
from core.models import INPUT_SHAPE, Spec, build_model, describe_layer, validate
from core.train_config import ConfigError, TrainConfig

BUNDLED_PREFIX = "bundled:"


class TransferError(ConfigError):
    """A model that cannot be the start of this one, in one sentence."""


def transfer_spec(source_spec: Spec, num_classes: int) -> Spec:
    """The source's layers with the last linear layer's outputs set to `num_classes`."""
    spec = copy.deepcopy(list(source_spec))
    last = max((i for i, layer in enumerate(spec) if isinstance(layer, dict) and layer.get("type") == "linear"),
               default=None)
    if last is None:
        raise TransferError("The model to start from has no linear layer to resize.")
    spec[last] = {**spec[last], "out": int(num_classes)}
    return spec


def feature_count(spec: Spec) -> int:
    """How many layers come before flatten: the convolutional feature extractor."""
    for i, layer in enumerate(spec):
        if layer.get("type") == "flatten":
            return i
    return len(spec)


def load_source(init_from: str, limits: Limits | None = None) -> Checkpoint:
    """The checkpoint `init_from` names ("bundled:<stem>" or a file path); TransferError when
    it cannot be read (the sentence never shows a server path)."""
    if not isinstance(init_from, str) or not init_from:
        raise TransferError("Choose a model to start from.")
    if init_from.startswith(BUNDLED_PREFIX):
        name = init_from[len(BUNDLED_PREFIX):] + ".safetensors"
        if name not in BUNDLED_NAMES:
            raise TransferError(f"No model named '{init_from[len(BUNDLED_PREFIX):][:40]}' ships with CNN Lab.")
        path = checkpoint_dir() / name
        if not path.is_file():
            from core.checkpoint import DEFAULT_CHECKPOINT
            path = DEFAULT_CHECKPOINT.parent / name
    else:
        path = Path(init_from)
    try:
        return load_checkpoint(path, limits)
    except CheckpointError as e:
        raise TransferError(f"The model to start from cannot be used: {e}") from None


def check_compatible(spec: Spec, source_spec: Spec, num_classes: int, source_classes: int) -> int:
    """How many leading layers (all but the last linear, or the features) the new spec shares
    with the source; TransferError naming the first different feature layer."""
    mine = validate(spec, INPUT_SHAPE, num_classes)
    theirs = validate(source_spec, INPUT_SHAPE, source_classes)
    features = feature_count(mine)
    if feature_count(theirs) != features or mine[:features] != theirs[:features]:
        for i in range(max(features, feature_count(theirs))):
            a = mine[i] if i < len(mine) else None
            b = theirs[i] if i < len(theirs) else None
            if a != b:
                raise TransferError(
                    f"The model to start from has different convolution layers (layer {i + 1}: "
                    f"{describe_layer(b) if b else 'none'} there, {describe_layer(a) if a else 'none'} here); "
                    "start from its architecture.")
        raise TransferError("The model to start from has a different number of layers before flatten; "
                            "start from its architecture.")
    if len(mine) == len(theirs) and mine[:-1] == theirs[:-1]:
        return len(mine) - 1    # the hidden linear layers too
    return features


class PartlyFrozen(nn.Sequential):
    """nn.Sequential (same state_dict keys) whose first `frozen` layers stay in eval mode: a
    frozen batch norm keeps the source's statistics instead of re-estimating them from a few
    examples, and a frozen dropout stays off."""

    def __init__(self, modules: nn.Sequential, frozen: int):
        super().__init__(*modules)
        self.frozen = frozen
        for layer in list(self)[:frozen]:
            for p in layer.parameters():
                p.requires_grad_(False)
        self.train(modules.training)

    def train(self, mode: bool = True):
        super().train(mode)
        for layer in list(self)[:self.frozen]:
            layer.train(False)
        return self


def initial_model(config: TrainConfig, num_classes: int, limits: Limits | None = None) -> nn.Module:
    """The model a run starts from: random weights, or (with `config.init_from`) the source's
    layers copied in, the feature layers frozen when `config.freeze`."""
    model = build_model(config.spec, INPUT_SHAPE, num_classes)
    if not config.init_from:
        return model
    source = load_source(config.init_from, limits)
    shared = check_compatible(config.spec, source.spec, num_classes, len(source.classes))
    state = source.model.state_dict()
    copied = {k: v for k, v in state.items() if int(k.split(".", 1)[0]) < shared}
    model.load_state_dict(copied, strict=False)
    if config.freeze:
        model = PartlyFrozen(model, feature_count(validate(config.spec, INPUT_SHAPE, num_classes)))
    return model


def source_summary(meta: dict[str, Any]) -> dict[str, Any]:
    """What a page shows about a model offered as a start: name, classes, accuracy."""
    return {"name": meta.get("name", "model"), "classes": list(meta.get("classes", [])),
            "dataset": meta.get("dataset"), "test_accuracy": (meta.get("metrics") or {}).get("test_accuracy")}


__all__ = ["TransferError", "transfer_spec", "feature_count", "load_source", "check_compatible",
           "PartlyFrozen", "initial_model", "source_summary", "BUNDLED_PREFIX"]
