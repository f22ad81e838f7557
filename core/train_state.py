"""A run's epoch checkpoint: everything needed to continue training after its last completed epoch
and produce the very steps an uninterrupted run would have taken.

Written by core.train.TrainingRun at each epoch end when its config names `epoch_state`, read back
when that file exists at the run's start (a run resumed after a server restart). It holds the
model weights, the optimizer's and the scheduler's state, the data-order generator (it also draws
the augmentation), the global torch RNG (dropout), NumPy's and Python's RNG, and the counters
(epoch, step, training seconds).

Format: torch.save of plain containers of tensors and numbers, loaded with `weights_only=True`
(no arbitrary pickle is ever executed). safetensors holds flat tensor maps only; an optimizer's and
a scheduler's state are nested dicts with numbers in them, so they would need a hand-written
flattening — the weights-only unpickler is the well-kept way to read them safely. The write is
atomic (a temporary file in the same folder, fsync'd, then os.replace), so a kill -9 at any moment
leaves the previous epoch's checkpoint or the new one, never a torn file.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.atomic_files import locked_temp_file
FORMAT = 1


def _numpy_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def _set_numpy_state(state: dict[str, Any]) -> None:
    np.random.set_state((state["name"], state["keys"].numpy().astype(np.uint32), state["pos"],
                         state["has_gauss"], state["cached"]))


def save_epoch_state(path: str | os.PathLike, *, model: torch.nn.Module, optimizer, scheduler,
                     generator: torch.Generator, epoch: int, step: int, train_seconds: float) -> None:
    """Write the state after `epoch` completed epochs, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    version, internal, gauss = random.getstate()
    state = {
        "format": FORMAT, "epoch": int(epoch), "step": int(step), "train_seconds": float(train_seconds),
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": _numpy_state(),
        "python_rng": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    with locked_temp_file(path.parent) as (fd, tmp):
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def load_epoch_state(path: str | os.PathLike) -> dict[str, Any] | None:
    """The saved state, or None when there is none (or it cannot be read: the run starts over)."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 — a torn or foreign file: start over rather than fail the run
        return None
    return state if isinstance(state, dict) and state.get("format") == FORMAT else None


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    """Put every random generator back where the epoch checkpoint left it."""
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    _set_numpy_state(state["numpy_rng"])
    py = state["python_rng"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
