"""Checkpoints: safetensors weights + CNN Lab JSON metadata, written atomically, loaded without pickle.

The metadata (under the safetensors header key "cnn_lab") holds everything needed to rebuild and
explain the model: spec, dataset with class names and normalization, training config, final
metrics, curves, seed, created time and format version.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_bytes
from torch import nn

from core import settings
from core.atomic_files import OWN_TEMP_PREFIX, TEMP_PREFIX, locked_temp_file, remove_abandoned_temp_files
from core.data import CUSTOM, DATASETS, info_for
from core.heavy import BusyError, heavy_slot
from core.limits import LimitError, Limits, check_size, check_spec
from core.limits import current as current_limits
from core.models import INPUT_SHAPE, SpecError, build_model, summary, validate

FORMAT_VERSION = 1
META_KEY = "cnn_lab"
CHECKPOINT_DIR_ENV = settings.CHECKPOINT_DIR
REPO_CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = REPO_CHECKPOINT_DIR / "mnist-default.safetensors"


class CheckpointError(ValueError):
    """A file that can't be used as a checkpoint, explained in one sentence.

    `limit` is the core.limits.LimitError behind it when a server limit was the reason, so a page
    can say the same in the visitor's language (i18n keys `train.limit_<key>`)."""

    limit: LimitError | None = None

    @classmethod
    def over_limit(cls, message: str, limit: LimitError) -> "CheckpointError":
        error = cls(message)
        error.limit = limit
        return error


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
    return settings.checkpoint_dir() or REPO_CHECKPOINT_DIR


def sanitize_name(name: str) -> str:
    """A safe file stem: letters (any script), digits, '-', '_', '.'; nothing else, ≤ 64 chars."""
    stem = re.sub(r"[^\w.\-]+", "-", name.strip(), flags=re.UNICODE).strip(".-_")[:64]
    if not stem:
        raise CheckpointError("Give the model a name with at least one letter or digit.")
    return stem


def make_metadata(spec: list, dataset: str, config: dict | None = None, metrics: dict | None = None,
                  history: list | None = None, name: str = "model", **extra) -> dict[str, Any]:
    # A run on your own classes carries its class names in its config; a transfer source given
    # as a file path is private (a server path): only its display name (init_name) is kept.
    info = info_for(dataset, (config or {}).get("classes"))
    if config and config.get("init_from") and not str(config["init_from"]).startswith("bundled:"):
        config = {**config, "init_from": None}
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


# Files that ship with the project. The app never replaces or deletes them, in the repo's
# checkpoints/ folder or in a copy of it at $CNN_LAB_CHECKPOINT_DIR; only the command line's
# --overwrite (a local user re-creating the bundled model, README) may replace one.
BUNDLED_NAMES = frozenset({DEFAULT_CHECKPOINT.name})
# Room for the longest temporary name next to it, within the 255 bytes most file systems allow.
MAX_NAME_BYTES = 200


def output_path(path: str | os.PathLike) -> Path:
    """`path` with the .safetensors suffix the saver adds (so `x1` and `x1.safetensors` are one file)."""
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")


def is_bundled(path: str | os.PathLike) -> bool:
    """Whether `path` is a checkpoint that ships with CNN Lab (or the server's copy of one)."""
    path = Path(path)
    if path.name not in BUNDLED_NAMES:
        return False
    try:
        folder = path.parent.resolve()
        return folder in (REPO_CHECKPOINT_DIR.resolve(), checkpoint_dir().resolve())
    except (OSError, RuntimeError):
        return True  # when in doubt, read-only


def _exists_message(name: str) -> str:
    return f"A checkpoint named '{name}' already exists; choose another name or confirm overwriting it."


def check_save_target(path: str | os.PathLike, overwrite: bool = False, replace_bundled: bool = False) -> Path:
    """The file a save to `path` would write, or CheckpointError: checked before a run trains,
    so a run is never lost to a name that cannot be used."""
    path = output_path(path)
    if not path.name.removesuffix(".safetensors").strip() or path.name.startswith("."):
        raise CheckpointError(f"'{path.name}' is not a usable checkpoint name; give the file a name.")
    if len(path.name.encode("utf-8")) > MAX_NAME_BYTES:
        raise CheckpointError(f"The file name is {len(path.name.encode('utf-8'))} bytes long; "
                              f"use at most {MAX_NAME_BYTES}.")
    if any(ord(c) < 32 or ord(c) == 127 for c in str(path)):
        raise CheckpointError("The file name contains control characters; use letters, digits, '-' or '_'.")
    if is_bundled(path) and path.exists() and not replace_bundled:
        raise CheckpointError(f"'{path.name}' ships with CNN Lab and cannot be replaced; "
                              "choose another name.")
    if path.is_dir():
        raise CheckpointError(f"'{path.name}' is a folder; choose a file name.")
    if path.exists() and not overwrite:
        raise CheckpointExistsError(_exists_message(path.name))
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CheckpointError(f"The folder of '{path.name}' cannot be written to; choose another place.")
    return path


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: without it, a power cut can forget the new directory entry."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any],
                    overwrite: bool = False, replace_bundled: bool = False) -> Path:
    """Write atomically: a temporary file in the same folder, fsync'd, then renamed/linked into place.

    A crash (even kill -9) at any moment leaves either the old file or the new one, plus at most a
    `.cnn-lab-save-*.tmp` file that `clean_stale_temp_files` removes at the next start.
    Without `overwrite`, an existing file is never replaced (os.link fails if the name exists,
    so even two savers racing for one name can't clobber each other). A bundled checkpoint is
    never replaced unless `replace_bundled` (the command line's explicit --overwrite).
    """
    path = check_save_target(path, overwrite, replace_bundled)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_bytes(model, meta)
    with locked_temp_file(path.parent) as (fd, tmp):
        # mkstemp creates 0600; a checkpoint is an ordinary shareable file (umask applies).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            if is_bundled(path) and path.exists() and not replace_bundled:  # appeared meanwhile
                raise CheckpointError(f"'{path.name}' ships with CNN Lab and cannot be replaced.")
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise CheckpointExistsError(_exists_message(path.name)) from None
        _fsync_dir(path.parent)
    return path


def clean_stale_temp_files(folder: str | os.PathLike | None = None, min_age_s: float = 60.0) -> int:
    """Remove the temporary files of saves that never finished (a crash, kill -9) under `folder`.

    A save's own file is told stale by its lock (core.atomic_files): gone with its writer, so a
    restart right after a crash cleans up at once. Files of the previous naming scheme carry no
    lock and are removed only once older than `min_age_s`. Returns how many were removed.
    """
    folder = Path(folder) if folder else checkpoint_dir()
    if not folder.is_dir():
        return 0
    removed = remove_abandoned_temp_files(folder)
    # Temporary files of the previous naming scheme (.<stem>.<random>.tmp); today's are
    # core.atomic_files' to judge (by their lock, or a not-yet-locked one by the hour).
    now = time.time()
    for tmp in folder.glob(".*.tmp"):
        try:
            if (not tmp.name.startswith(OWN_TEMP_PREFIX) and tmp.is_file()
                    and now - tmp.stat().st_mtime >= min_age_s):
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


# ------------------------------------------------------------------------------- reading

_MAX_TEXT = 200            # name, dataset, class labels, …
_MAX_CLASSES = 1000
_MAX_HISTORY = 100_000


def _open_safetensors(data: bytes):
    """safetensors' own reader (`safe_open`) over in-memory bytes: a memory file on Linux, else a
    private temporary file that is removed at once. Returns (handle, cleanup)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("cnn-lab-upload", getattr(os, "MFD_CLOEXEC", 0))
        name = f"/proc/self/fd/{fd}"
    else:  # pragma: no cover - macOS / Windows
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".upload")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        handle = safe_open(name, framework="pt")
    except BaseException:
        os.close(fd)
        if not name.startswith("/proc/"):
            os.unlink(name)
        raise

    def cleanup():
        os.close(fd)
        if not name.startswith("/proc/"):
            os.unlink(name)
    return handle, cleanup


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_metadata(meta: Any, source: str = "the file", limits: Limits | None = None) -> dict[str, Any]:
    """The metadata if every field a page or the loader reads has the right type and the spec is
    within the limits; else CheckpointError naming the field. Unknown extra keys are kept."""
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{source}'s metadata is not valid: {what}; it is not a usable CNN Lab checkpoint.")

    if not isinstance(meta, dict):
        raise bad(f"it is a {type(meta).__name__}, not an object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        shown = version if _is_number(version) else repr(version)[:20]
        raise CheckpointError(f"{source} uses checkpoint format {shown}, "
                              f"but this CNN Lab reads format {FORMAT_VERSION}.")
    for key in ("spec", "dataset", "classes", "normalization"):
        if key not in meta:
            raise CheckpointError(f"{source}'s metadata lacks '{key}'; it is not a usable CNN Lab checkpoint.")
    for key in ("name", "created", "recipe", "torch_version"):
        if key in meta and not (isinstance(meta[key], str) and len(meta[key]) <= 10 * _MAX_TEXT):
            raise bad(f"'{key}' must be a short text")
    if not isinstance(meta["dataset"], str) or (meta["dataset"] not in DATASETS and meta["dataset"] != CUSTOM):
        raise bad(f"'dataset' must be one of {', '.join([*DATASETS, CUSTOM])}")
    classes = meta["classes"]
    if not (isinstance(classes, list) and 2 <= len(classes) <= _MAX_CLASSES
            and all(isinstance(c, str) and 0 < len(c) <= _MAX_TEXT for c in classes)):
        raise bad(f"'classes' must be a list of 2 to {_MAX_CLASSES} class names")
    shape = meta.get("input_shape", list(INPUT_SHAPE))
    if not isinstance(shape, list) or shape != list(INPUT_SHAPE) or any(isinstance(v, bool) for v in shape):
        raise bad(f"'input_shape' must be {list(INPUT_SHAPE)} (28×28 greyscale images)")
    norm = meta["normalization"]
    if not (isinstance(norm, dict) and _is_number(norm.get("mean")) and _is_number(norm.get("std"))
            and norm["std"] > 0):
        raise bad("'normalization' must hold a number 'mean' and a positive number 'std'")
    for key in ("config", "metrics"):
        if not isinstance(meta.get(key, {}), dict):
            raise bad(f"'{key}' must be an object")
    for key, value in meta.get("metrics", {}).items():
        if key in ("test_accuracy", "test_loss", "train_seconds", "steps") and not (value is None or _is_number(value)):
            raise bad(f"metric '{key}' must be a number")
    if "seed" in meta and meta["seed"] is not None and not (_is_number(meta["seed"]) and meta["seed"] == int(meta["seed"])):
        raise bad("'seed' must be a whole number")
    history = meta.get("history", [])
    if not (isinstance(history, list) and len(history) <= _MAX_HISTORY):
        raise bad("'history' must be a list of training events")
    for event in history:
        if not (isinstance(event, dict) and isinstance(event.get("event"), str)
                and all(_is_number(v) or v is None for k, v in event.items()
                        if k in ("step", "epoch", "loss", "accuracy", "test_loss", "test_accuracy",
                                 "train_loss", "train_accuracy", "lr", "train_seconds"))):
            raise bad("'history' holds an event that is not a set of numbers")
    try:
        check_spec(meta["spec"], INPUT_SHAPE, len(classes), batch_size=1, limits=limits)
    except LimitError as e:
        raise CheckpointError.over_limit(f"{source} describes a model over this server's limits: {e}", e) from None
    except SpecError as e:
        raise CheckpointError(f"{source} describes a model that cannot be built: {e}") from None
    return meta


def _decode_metadata(header: dict[str, str] | None, source: str) -> Any:
    try:
        return json.loads(header[META_KEY])
    except (KeyError, TypeError, ValueError, RecursionError):
        raise CheckpointError(f"{source} has no CNN Lab metadata; only checkpoints saved by "
                              "CNN Lab (Train page or `python -m core train`) can be loaded.") from None


_NOT_SAFETENSORS = "{source} is not a safetensors checkpoint; upload a .safetensors file saved by CNN Lab."


def read_metadata(data: bytes, source: str = "the file", limits: Limits | None = None) -> dict[str, Any]:
    """The validated CNN Lab metadata of checkpoint bytes, without building the model."""
    if len(data) < 8:
        raise CheckpointError(f"{source} is not a safetensors checkpoint (it is too short).")
    try:
        handle, cleanup = _open_safetensors(data)
    except _READ_ERRORS:
        raise CheckpointError(_NOT_SAFETENSORS.format(source=source)) from None
    try:
        return validate_metadata(_decode_metadata(handle.metadata(), source), source, limits)
    finally:
        cleanup()


def expected_tensors(spec: list, num_classes: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every tensor name the model of a (valid) spec has, with its safetensors dtype and shape,
    computed from the spec's shapes alone (the same keys as build_model(...).state_dict())."""
    layers = validate(spec, INPUT_SHAPE, num_classes)
    shapes = [INPUT_SHAPE] + [r.output_shape for r in summary(layers, INPUT_SHAPE, num_classes).layers]
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for i, (layer, in_shape) in enumerate(zip(layers, shapes)):
        kind = layer["type"]
        if kind == "conv":
            k = layer["kernel"]
            out[f"{i}.weight"] = ("F32", (layer["out"], in_shape[0], k, k))
            out[f"{i}.bias"] = ("F32", (layer["out"],))
        elif kind == "linear":
            out[f"{i}.weight"] = ("F32", (layer["out"], in_shape[0]))
            out[f"{i}.bias"] = ("F32", (layer["out"],))
        elif kind == "batchnorm":
            c = in_shape[0]
            for name in ("weight", "bias", "running_mean", "running_var"):
                out[f"{i}.{name}"] = ("F32", (c,))
            out[f"{i}.num_batches_tracked"] = ("I64", ())
    return out


def _check_tensors(handle, meta: dict[str, Any], source: str) -> None:
    expected = expected_tensors(meta["spec"], len(meta["classes"]))
    found = set(handle.keys())
    missing, extra = sorted(set(expected) - found), sorted(found - set(expected))
    if missing or extra:
        which = f"'{missing[0]}' is missing" if missing else f"'{extra[0][:60]}' is not part of the model"
        raise CheckpointError(f"{source}'s weights do not match its model description ({which}); "
                              "the file is inconsistent.")
    for name, (dtype, shape) in expected.items():
        tensor = handle.get_slice(name)
        if tensor.get_dtype() != dtype or tuple(tensor.get_shape()) != shape:
            raise CheckpointError(f"{source}'s weights do not match its model description "
                                  f"(first difference: {name} is {tensor.get_dtype()} "
                                  f"{list(tensor.get_shape())}, expected {dtype} {list(shape)}); "
                                  "the file is inconsistent.")


_READ_ERRORS = (SafetensorError, OSError, ValueError, RuntimeError, TypeError, OverflowError,
                KeyError, MemoryError, BufferError)


def load_checkpoint_bytes(data: bytes, source: str = "the file", limits: Limits | None = None) -> Checkpoint:
    """Validate completely, then rebuild the model and load its tensors; nothing is unpickled.

    In order: the size against the checkpoint limit; the header through safetensors' own reader;
    the metadata's schema; the spec (types, shapes, this server's limits); every tensor's name,
    dtype and shape against those computed from the spec. Only then is a model allocated, inside
    one of the server's few slots for heavy work (core.heavy), shared with image decodes.
    """
    try:
        with heavy_slot():
            return _load_checkpoint_bytes(data, source, limits)
    except BusyError as e:
        raise CheckpointError(str(e)) from None


def _load_checkpoint_bytes(data: bytes, source: str, limits: Limits | None) -> Checkpoint:
    limits = current_limits() if limits is None else limits
    try:
        check_size("checkpoint_bytes", len(data), limits)
    except LimitError as e:
        raise CheckpointError.over_limit(f"{source}: {e}", e) from None
    if len(data) < 8:
        raise CheckpointError(f"{source} is not a safetensors checkpoint (it is too short).")
    try:
        handle, cleanup = _open_safetensors(data)
    except _READ_ERRORS:
        raise CheckpointError(_NOT_SAFETENSORS.format(source=source)) from None
    try:
        meta = validate_metadata(_decode_metadata(handle.metadata(), source), source, limits)
        _check_tensors(handle, meta, source)
        try:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        except _READ_ERRORS as e:
            raise CheckpointError(f"{source} is damaged ({str(e)[:80]}); save the model again.") from None
    finally:
        cleanup()
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{source}'s weight '{name}' holds NaN or infinite values; the model is broken.")
    model = build_model(meta["spec"], INPUT_SHAPE, len(meta["classes"]))
    model.load_state_dict(tensors, strict=True)  # names, dtypes and shapes are already checked
    model.eval()
    return Checkpoint(model, meta)


def load_checkpoint(path: str | os.PathLike, limits: Limits | None = None) -> Checkpoint:
    """`load_checkpoint_bytes` on a file; its size is checked before it is read."""
    path = Path(path)
    limits = current_limits() if limits is None else limits
    try:
        if path.is_file():
            check_size("checkpoint_bytes", path.stat().st_size, limits)
        data = path.read_bytes()
    except LimitError as e:
        raise CheckpointError.over_limit(f"{path.name}: {e}", e) from None
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist.") from None
    except OSError as e:
        raise CheckpointError(f"{path} cannot be read ({e.strerror}).") from None
    return load_checkpoint_bytes(data, path.name, limits)


# The metadata of files already read, by (path, modification time, size, limits). Why: the
# Predict and Train pages list every checkpoint on each full rerun, and a drawn digit reruns
# Predict: re-opening and re-validating every header was 5% of that rerun (issue 22). A file
# rewritten in place gets a new mtime or size; the cache is small and bounded.
_METADATA_CACHE: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_METADATA_CACHE_SIZE = 256
_METADATA_LOCK = threading.Lock()


def read_file_metadata(path: str | os.PathLike, limits: Limits | None = None) -> dict[str, Any]:
    """The validated metadata of a checkpoint file, read with safe_open (only the header)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise CheckpointError(_NOT_SAFETENSORS.format(source=path.name)) from None
    key = (str(path.absolute()), stat.st_mtime_ns, stat.st_size, limits or current_limits())
    with _METADATA_LOCK:
        if key in _METADATA_CACHE:
            _METADATA_CACHE.move_to_end(key)
            return copy.deepcopy(_METADATA_CACHE[key])   # callers may change their copy
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata()
    except _READ_ERRORS:
        raise CheckpointError(_NOT_SAFETENSORS.format(source=path.name)) from None
    meta = validate_metadata(_decode_metadata(header, path.name), path.name, limits)
    with _METADATA_LOCK:
        _METADATA_CACHE[key] = copy.deepcopy(meta)
        while len(_METADATA_CACHE) > _METADATA_CACHE_SIZE:
            _METADATA_CACHE.popitem(last=False)
    return meta


def list_checkpoints(folder: str | os.PathLike | None = None,
                     limits: Limits | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """(path, metadata) of every valid checkpoint directly in the folder, newest first, the
    bundled model first; unreadable or invalid files are skipped."""
    folder = Path(folder) if folder else checkpoint_dir()
    found = []
    for path in folder.glob("*.safetensors"):
        if not path.is_file():
            continue
        try:
            meta = read_file_metadata(path, limits)
        except CheckpointError:
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
    "read_metadata", "read_file_metadata", "validate_metadata", "expected_tensors", "list_checkpoints",
    "from_model", "to_bytes", "DEFAULT_CHECKPOINT", "BUNDLED_NAMES", "is_bundled", "output_path",
    "check_save_target", "clean_stale_temp_files",
]
