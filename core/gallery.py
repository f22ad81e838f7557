"""The class gallery: finished models that learners (or the teacher) chose to show everyone.

A learner publishes a model under a nickname; it then appears, read-only, in every visitor's
Predict page with who trained it and its test accuracy. Publishing copies the weights into the
gallery folder under a fresh random id, so the entry reveals nothing of the learner's private
workspace (not its secret, not its folder, not the run id). The teacher can feature an entry
(listed first, marked with a star) or remove any entry; a learner can remove their own.

    <checkpoint root>/gallery/<entry id>.safetensors   the model, metadata cleaned of private ids
    <checkpoint root>/gallery/<entry id>.json          nickname, publisher, time, featured flag

The sidecar JSON is what changes after publishing (featured), so a model file is written once.
Every write is atomic (a temporary file, then os.replace). Limits: CNN_LAB_MAX_GALLERY entries on
the server (default 60) and CNN_LAB_MAX_GALLERY_PER_VISITOR per publisher (default 3).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from core import settings
from core.budgets import ClientLedger
from core.checkpoint import Checkpoint, CheckpointError, checkpoint_dir, load_checkpoint, save_checkpoint
from core.workspace import display_name

GALLERY = "gallery"
MAX_GALLERY_ENV = settings.MAX_GALLERY                  # read by core.settings
MAX_PER_VISITOR_ENV = settings.MAX_GALLERY_PER_VISITOR
_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,32}")
_PRIVATE_META = ("run_id", "recipe_command", "source_path")  # never copied into a public entry
TEACHER = "teacher"  # the publisher id of the teacher's picks: no per-visitor cap
_lock = threading.Lock()  # publish/remove of one server process one at a time (count checks)


class GalleryError(CheckpointError):
    """A gallery request that cannot be served, in one sentence (`code` for translations)."""

    def __init__(self, message: str, code: str = "gallery", **details):
        self.code, self.details = code, details
        super().__init__(message)


@dataclass(frozen=True)
class GalleryEntry:
    id: str
    nickname: str              # safe to render
    name: str                  # the model's own name, safe to render
    test_accuracy: float | None
    architecture: str          # preset name or "custom"
    dataset: str
    published: float           # wall-clock seconds
    featured: bool
    publisher: str             # the publishing workspace's id (a hash), for "remove my own"
    client: str = ""           # the publishing client's id (a hash, core.clients), for its budget

    @property
    def ref(self) -> str:
        return f"gallery:{self.id}"


def gallery_dir(root: str | os.PathLike | None = None) -> Path:
    return Path(root) if root else checkpoint_dir() / GALLERY


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False))
    os.replace(tmp, path)


def _read_entry(sidecar: Path) -> GalleryEntry | None:
    """An entry from its sidecar, or None when the file is unreadable or incomplete (a crash
    between the two writes leaves a model without a sidecar: it is simply not listed)."""
    try:
        info = json.loads(sidecar.read_text())
        if not isinstance(info, dict) or not (sidecar.with_suffix(".safetensors")).is_file():
            return None
        acc = info.get("test_accuracy")
        return GalleryEntry(
            id=sidecar.stem, nickname=display_name(info.get("nickname"), "anonymous"),
            name=display_name(info.get("name")), architecture=display_name(info.get("architecture"), "custom"),
            test_accuracy=float(acc) if isinstance(acc, (int, float)) and 0 <= acc <= 1 else None,
            dataset=display_name(info.get("dataset"), "mnist"), published=float(info.get("published", 0)),
            featured=bool(info.get("featured", False)), publisher=str(info.get("publisher", "")),
            client=str(info.get("client", "")))
    except (OSError, ValueError, TypeError):
        return None


def list_entries(root: str | os.PathLike | None = None) -> list[GalleryEntry]:
    """Every entry: featured first, then newest first."""
    folder = gallery_dir(root)
    if not folder.is_dir():
        return []
    entries = [e for e in (_read_entry(p) for p in folder.glob("*.json") if _ID_RE.fullmatch(p.stem)) if e]
    return sorted(entries, key=lambda e: (not e.featured, -e.published))


def publish(model: nn.Module, meta: dict[str, Any], nickname: str, publisher: str,
            root: str | os.PathLike | None = None, client: str | None = None,
            ledger: ClientLedger | None = None) -> GalleryEntry:
    """Copy a finished model into the gallery under `nickname`. `publisher` is the workspace id
    (a hash) of whoever publishes; it lets them remove their own entry later. With a `ledger`,
    the entry also counts against `client`'s gallery budget over all their workspaces (a person
    opening a new tab per workspace gets no more) and against the server's disk budget."""
    nick = display_name(nickname, fallback="")
    if not nick:
        raise GalleryError("Choose a nickname to show next to your model (letters or digits).",
                           code="no_nickname")
    folder = gallery_dir(root)
    with _lock:
        entries = list_entries(root)
        max_total, max_own = settings.max_gallery(), settings.max_gallery_per_visitor()
        if len(entries) >= max_total:
            raise GalleryError(f"The class gallery is full ({max_total} models); ask the teacher to "
                               "remove some.", code="full", limit=max_total)
        if publisher != TEACHER and sum(e.publisher == publisher for e in entries) >= max_own:
            raise GalleryError(f"You already have {max_own} models in the gallery; remove one first.",
                               code="own_full", limit=max_own)
        if ledger is not None and publisher != TEACHER:
            _check_budgets(entries, model, client, ledger)
        folder.mkdir(parents=True, exist_ok=True)
        entry_id = secrets.token_urlsafe(12)
        public_meta = {k: v for k, v in meta.items() if k not in _PRIVATE_META}
        public_meta["name"] = display_name(meta.get("name"))
        save_checkpoint(folder / f"{entry_id}.safetensors", model, public_meta)
        metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        _write_json_atomic(folder / f"{entry_id}.json", {
            "nickname": nick, "name": public_meta["name"], "publisher": publisher, "client": client or "",
            "test_accuracy": metrics.get("test_accuracy"), "architecture": config.get("preset") or "custom",
            "dataset": meta.get("dataset", "mnist"), "published": time.time(), "featured": False})
    entry = _read_entry(folder / f"{entry_id}.json")
    assert entry is not None
    return entry


def _check_budgets(entries: list[GalleryEntry], model: nn.Module, client: str | None,
                   ledger: ClientLedger) -> None:
    budgets = ledger.budgets()
    if client and sum(e.client == client for e in entries) >= budgets.gallery_per_client:
        raise GalleryError(f"Your network already has {budgets.gallery_per_client} models in the gallery, "
                           "the most this server allows; remove one first.", code="client_full",
                           limit=budgets.gallery_per_client)
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if ledger.server_disk_bytes() + size > budgets.server_disk_bytes:
        raise GalleryError("The server's disk for saved models is full; ask the teacher to make room.",
                           code="server_full")


def _sidecar(entry_id: str, root) -> Path:
    if not isinstance(entry_id, str) or not _ID_RE.fullmatch(entry_id):
        raise GalleryError("This gallery model no longer exists.", code="no_entry")
    path = gallery_dir(root) / f"{entry_id}.json"
    if not path.is_file():
        raise GalleryError("This gallery model no longer exists.", code="no_entry")
    return path


def load(entry_id: str, root: str | os.PathLike | None = None) -> Checkpoint:
    """The entry's model, validated like any checkpoint."""
    return load_checkpoint(_sidecar(entry_id, root).with_suffix(".safetensors"))


def model_path(entry_id: str, root: str | os.PathLike | None = None) -> Path:
    """The entry's file (for caching keyed on path and mtime); never shown to a visitor."""
    return _sidecar(entry_id, root).with_suffix(".safetensors")


def set_featured(entry_id: str, featured: bool, root: str | os.PathLike | None = None) -> None:
    """Teacher only (the page checks the teacher key): pin an entry to the top of the gallery."""
    path = _sidecar(entry_id, root)
    with _lock:
        info = json.loads(path.read_text())
        info["featured"] = bool(featured)
        _write_json_atomic(path, info)


def remove(entry_id: str, publisher: str | None = None, root: str | os.PathLike | None = None) -> None:
    """Remove an entry: the teacher (publisher=None) any, a learner only their own."""
    path = _sidecar(entry_id, root)
    entry = _read_entry(path)
    if publisher is not None and (entry is None or entry.publisher != publisher):
        raise GalleryError("Only the learner who published a model (or the teacher) can remove it.",
                           code="not_yours")
    with _lock:
        path.unlink(missing_ok=True)
        path.with_suffix(".safetensors").unlink(missing_ok=True)
