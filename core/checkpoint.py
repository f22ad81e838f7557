"""Checkpoints: safetensors weights + CNN Lab JSON metadata, written atomically, loaded without pickle.

The metadata (under the safetensors header key "cnn_lab") holds everything needed to rebuild and
explain the model: spec, dataset with class names and normalization, training config, final
metrics, curves, seed, created time and format version.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes
from torch import nn

from core.data import DATASETS
from core.models import INPUT_SHAPE, SpecError, build_model

FORMAT_VERSION = 1
META_KEY = "cnn_lab"
CHECKPOINT_DIR_ENV = "CNN_LAB_CHECKPOINT_DIR"
REPO_CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = REPO_CHECKPOINT_DIR / "mnist-default.safetensors"
MAX_CHECKPOINT_BYTES = 200 * 1024 * 1024


class CheckpointError(ValueError):
    """A file that can't be used as a checkpoint, explained in one sentence."""


class CheckpointExistsError(CheckpointError):
    """Saving would overwrite an existing file and the caller did not allow it."""


@dataclass
class Checkpoint:
    model: nn.Module       # in eval mode, on the CPU
    meta: dict[str, Any]

    @property
    def spec(self) -> list:
        return self.meta["spec"]

    @property
    def dataset(self) -> str:
        return self.meta["dataset"]

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]

    @property
    def mean(self) -> float:
        return self.meta["normalization"]["mean"]

    @property
    def std(self) -> float:
        return self.meta["normalization"]["std"]

    @property
    def name(self) -> str:
        return self.meta.get("name", "model")

    @property
    def temperature(self) -> float:
        """Softmax temperature fitted after training (1.0 when none is recorded); see core.calibration."""
        from core.calibration import temperature_from_meta
        return temperature_from_meta(self.meta)


def checkpoint_dir() -> Path:
    """Where saved models live: $CNN_LAB_CHECKPOINT_DIR, else the repo's checkpoints/."""
    env = os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(env) if env else REPO_CHECKPOINT_DIR


def sanitize_name(name: str) -> str:
    """A safe file stem: letters (any script), digits, '-', '_', '.'; nothing else, ≤ 64 chars."""
    stem = re.sub(r"[^\w.\-]+", "-", name.strip(), flags=re.UNICODE).strip(".-_")[:64]
    if not stem:
        raise CheckpointError("Give the model a name with at least one letter or digit.")
    return stem


def make_metadata(spec: list, dataset: str, config: dict | None = None, metrics: dict | None = None,
                  history: list | None = None, name: str = "model", **extra) -> dict[str, Any]:
    info = DATASETS[dataset]
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "spec": spec,
        "input_shape": list(INPUT_SHAPE),
        "dataset": dataset,
        "classes": list(info.classes),
        "normalization": {"mean": info.mean, "std": info.std},
        "config": config or {},
        "seed": (config or {}).get("seed"),
        "metrics": metrics or {},
        "history": history or [],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def to_bytes(model: nn.Module, meta: dict[str, Any]) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return save_bytes(tensors, metadata={META_KEY: json.dumps(meta, ensure_ascii=False)})


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any],
                    overwrite: bool = False) -> Path:
    """Write atomically: a temporary file in the same folder, then a rename/link into place.

    Without `overwrite`, an existing file is never replaced (os.link fails if the name exists,
    so even two savers racing for one name can't clobber each other).
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise CheckpointExistsError(f"A checkpoint named '{path.name}' already exists; "
                                    "choose another name or confirm overwriting it.")
    data = to_bytes(model, meta)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; a checkpoint is an ordinary shareable file (umask applies).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise CheckpointExistsError(f"A checkpoint named '{path.name}' already exists; "
                                            "choose another name or confirm overwriting it.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(data: bytes, source: str = "the file") -> dict[str, Any]:
    """The CNN Lab metadata of checkpoint bytes, without building the model."""
    if len(data) < 8:
        raise CheckpointError(f"{source} is not a safetensors checkpoint (it is too short).")
    header_len = int.from_bytes(data[:8], "little")
    if header_len <= 0 or header_len > min(len(data) - 8, 100_000_000):
        raise CheckpointError(f"{source} is not a safetensors checkpoint; "
                              "upload a .safetensors file saved by CNN Lab.")
    try:
        header = json.loads(data[8:8 + header_len])
        meta = json.loads(header["__metadata__"][META_KEY])
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{source} has no CNN Lab metadata; only checkpoints saved by "
                              "CNN Lab (Train page or `python -m core train`) can be loaded.") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{source} uses checkpoint format {meta.get('format_version')!r}, "
                              f"but this CNN Lab reads format {FORMAT_VERSION}.")
    for key in ("spec", "dataset", "classes", "normalization"):
        if key not in meta:
            raise CheckpointError(f"{source}'s metadata lacks '{key}'; it is not a usable CNN Lab checkpoint.")
    return meta


def load_checkpoint_bytes(data: bytes, source: str = "the file") -> Checkpoint:
    """Rebuild the model from its spec and load the tensors; nothing is unpickled."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{source} is larger than {MAX_CHECKPOINT_BYTES // 2**20} MB; "
                              "it is not a CNN Lab checkpoint.")
    meta = read_metadata(data, source)
    try:
        tensors = load_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{source} is damaged ({e}); save the model again.") from None
    try:
        model = build_model(meta["spec"], tuple(meta.get("input_shape", INPUT_SHAPE)), len(meta["classes"]))
    except SpecError as e:
        raise CheckpointError(f"{source} describes a model that cannot be built: {e}") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in tensors.items()}
        diff = sorted(set(expected.items()) ^ set(found.items()))
        raise CheckpointError(f"{source}'s weights do not match its model description "
                              f"(first difference: {diff[0][0]}); the file is inconsistent.") from None
    model.eval()
    return Checkpoint(model, meta)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist.") from None
    except OSError as e:
        raise CheckpointError(f"{path} cannot be read ({e.strerror}).") from None
    return load_checkpoint_bytes(data, path.name)


def list_checkpoints(folder: str | os.PathLike | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """(path, metadata) of every readable checkpoint in the folder, newest first; others skipped."""
    folder = Path(folder) if folder else checkpoint_dir()
    found = []
    for path in folder.glob("*.safetensors"):
        try:
            with open(path, "rb") as f:
                head = f.read(8)
                n = int.from_bytes(head, "little") if len(head) == 8 else 0
                meta = read_metadata(head + f.read(n) if 0 < n < 100_000_000 else head, path.name)
        except (CheckpointError, OSError):
            continue
        found.append((path, meta))
    found.sort(key=lambda pm: str(pm[1].get("created", "")), reverse=True)
    # The bundled model first: it is the one a new user should start with.
    found.sort(key=lambda pm: pm[0].name != DEFAULT_CHECKPOINT.name)
    return found


def from_model(model: nn.Module, meta: dict[str, Any]) -> Checkpoint:
    """An in-memory checkpoint (e.g. an unsaved Train-page run) with the same interface."""
    cpu = model.to("cpu").eval()
    return Checkpoint(cpu, meta)


__all__ = [
    "Checkpoint", "CheckpointError", "CheckpointExistsError", "checkpoint_dir", "sanitize_name",
    "make_metadata", "save_checkpoint", "load_checkpoint", "load_checkpoint_bytes",
    "read_metadata", "list_checkpoints", "from_model", "to_bytes", "DEFAULT_CHECKPOINT",
]
