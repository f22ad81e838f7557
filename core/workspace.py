"""Private workspaces: each visitor's saved models, reachable only with the visitor's secret.

A workspace is identified by an unguessable secret (`new_secret()`, 256 bits from `secrets`, signed
with the checkpoint folder's key so that only secrets this server issued are honoured:
`is_issued`, core.link_signing) that the page keeps in the visitor's session and offers as a
private link. On disk the workspace is a
folder named after a hash of the secret, so the secret itself never appears in a path, a log line
or a directory listing, and knowing a folder name does not give access to it:

    <checkpoint root>/                     $CNN_LAB_CHECKPOINT_DIR or the repo's checkpoints/
        mnist-default.safetensors          bundled: listed and loaded by everyone, read-only
        workspaces/<sha256(secret)[:32]>/  one visitor's models

A workspace lists the bundled models and its own, never another's; it saves only into its own
folder, within the quota (CNN_LAB_MAX_MODELS models, CNN_LAB_MAX_WORKSPACE_MB bytes; with a ledger also
the per-client and server-wide disk budgets of core.budgets), never under
a bundled model's name. Models are addressed by a `ModelEntry.ref` ("bundled:<stem>" or
"own:<stem>"), never by a path, so a visitor cannot name a file elsewhere. Display names are
cleaned of control characters and markup, so they are safe to show.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from core.checkpoint import (BUNDLED_NAMES, Checkpoint, CheckpointError, CheckpointExistsError,
                             checkpoint_dir, clean_stale_temp_files, list_checkpoints, load_checkpoint,
                             sanitize_name, save_checkpoint)
from core.limits import LimitError, Limits, format_bytes
from core import link_signing
from core.budgets import ClientLedger
from core.folder_lock import folder_lock
from core.limits import current as current_limits
from core.names import clean_name

WORKSPACES = "workspaces"
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{32,128}")
_REF_RE = re.compile(r"(bundled|own):([\w.\-]{1,64})")
_cleaned_roots: set[Path] = set()  # per process: stale temp files are removed once per root


class WorkspaceError(CheckpointError):
    """A workspace request that cannot be served, in one sentence (`code` for translations)."""

    def __init__(self, message: str, code: str = "workspace", **details):
        self.code, self.details = code, details
        super().__init__(message)


class QuotaError(WorkspaceError):
    """Saving would exceed this workspace's quota (models or bytes)."""


def new_secret(root: str | os.PathLike | None = None) -> str:
    """A fresh workspace secret for a private link (67 URL-safe characters), signed with the
    checkpoint folder's key so that only secrets this server issued are honoured
    (core.link_signing)."""
    return link_signing.issue(Path(root) if root else checkpoint_dir())


def workspace_id(secret: str) -> str:
    """The folder name of a workspace: a hash of its secret, never the secret itself."""
    return hashlib.sha256(b"cnn-lab-workspace\0" + secret.encode("ascii")).hexdigest()[:32]


def is_valid_secret(secret: Any) -> bool:
    """Well-formed (the characters and length a secret has); see `is_issued` for "ours"."""
    return isinstance(secret, str) and _SECRET_RE.fullmatch(secret) is not None


def is_issued(secret: Any, root: str | os.PathLike | None = None) -> bool:
    """Whether this server (or one sharing its checkpoint folder) issued `secret`: a private link
    an attacker made up is not honoured (core.link_signing)."""
    if not is_valid_secret(secret):
        return False
    folder = Path(root) if root else checkpoint_dir()
    return link_signing.is_signed(secret, folder) or link_signing.is_legacy(workspace_id(secret), folder)


def display_name(raw: Any, fallback: str = "model") -> str:
    """A model name safe to render anywhere (markdown, HTML, a file name in a caption): no control
    or format characters, no markup or path characters, at most 64 characters (core.names)."""
    return clean_name(raw, 64, fallback)


@dataclass(frozen=True)
class ModelEntry:
    """A model a workspace may use. `ref` is what a page stores and passes back to `load`."""

    ref: str
    name: str                   # display_name: safe to render
    bundled: bool               # True: ships with CNN Lab, read-only
    size: int                   # bytes on disk
    meta: dict[str, Any] = field(repr=False, compare=False)

    @property
    def stem(self) -> str:
        return self.ref.split(":", 1)[1]


@dataclass(frozen=True)
class Usage:
    models: int
    bytes: int
    max_models: int | None
    max_bytes: int | None


class Workspace:
    """One visitor's models. Create with `Workspace.open(secret)`; the secret is not stored in
    anything that is printed (repr shows the hashed id only)."""

    def __init__(self, secret: str, root: str | os.PathLike | None = None, limits: Limits | None = None,
                 ledger: ClientLedger | None = None, client: str | None = None):
        if not is_valid_secret(secret):
            raise WorkspaceError("This private link is not valid; use the link the page gave you "
                                 "or start a new workspace.", code="bad_secret")
        self._secret = secret
        self.id = workspace_id(secret)
        self.root = Path(root) if root else checkpoint_dir()
        self.limits = current_limits() if limits is None else limits
        self.folder = self.root / WORKSPACES / self.id
        # With a ledger, saves are also held to the per-client and server-wide disk budgets;
        # `client` is who started this workspace when the ledger has no record of it.
        self.ledger, self.client = ledger, client
        _clean_once(self.root)

    @classmethod
    def open(cls, secret: str, root: str | os.PathLike | None = None, limits: Limits | None = None,
             ledger: ClientLedger | None = None, client: str | None = None) -> "Workspace":
        return cls(secret, root, limits, ledger, client)

    @classmethod
    def create(cls, root: str | os.PathLike | None = None, limits: Limits | None = None,
               ledger: ClientLedger | None = None, client: str | None = None) -> "Workspace":
        """A new workspace with a freshly issued secret. With a ledger and a client, the start is
        counted against the client's hourly budget first (BudgetError when over it)."""
        secret = new_secret(root)
        if ledger is not None and client is not None:
            ledger.claim_workspace(client, workspace_id(secret))
        return cls(secret, root, limits, ledger, client)

    @property
    def secret(self) -> str:
        """For the page's private link only."""
        return self._secret

    def __repr__(self) -> str:
        return f"Workspace(id={self.id!r})"

    # ------------------------------------------------------------------ listing
    def bundled_models(self) -> list[ModelEntry]:
        return [self._entry("bundled", path, meta) for path, meta in list_checkpoints(self.root, self.limits)
                if path.name in BUNDLED_NAMES]

    def own_models(self) -> list[ModelEntry]:
        if not self.folder.is_dir():
            return []
        return [self._entry("own", path, meta) for path, meta in list_checkpoints(self.folder, self.limits)]

    def list_models(self) -> list[ModelEntry]:
        """The bundled models first, then this workspace's, newest first; nobody else's."""
        return self.bundled_models() + self.own_models()

    def usage(self) -> Usage:
        files = self._own_files()
        return Usage(len(files), sum(_size(f) for f in files), self.limits.max_models,
                     self.limits.max_workspace_bytes)

    # ------------------------------------------------------------------ load / save / delete
    def load(self, ref: str) -> Checkpoint:
        """The model `ref` names, if it is bundled or this workspace's; else WorkspaceError."""
        return load_checkpoint(self._path_of(ref), self.limits)

    def model_path(self, ref: str) -> Path:
        """The file behind `ref` (for a download button); never shown to the visitor."""
        return self._path_of(ref)

    def exists(self, name: str) -> bool:
        return (self.folder / f"{self.stem_for(name)}.safetensors").exists()

    def stem_for(self, name: str) -> str:
        """The file stem a model saved as `name` gets (letters, digits, '-', '.')."""
        stem = sanitize_name(display_name(name, fallback=""))
        if f"{stem}.safetensors" in BUNDLED_NAMES:
            raise WorkspaceError(f"'{stem}' is the name of a model that ships with CNN Lab; "
                                 "choose another name.", code="bundled_name", name=stem)
        return stem

    def save(self, name: str, model: nn.Module, meta: dict[str, Any], overwrite: bool = False) -> ModelEntry:
        """Save into this workspace atomically, within the quota; overwrite only when asked,
        and only this workspace's own model of that name."""
        stem = self.stem_for(name)
        meta = {**meta, "name": display_name(meta.get("name", name))}
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{stem}.safetensors"
        with self._lock():
            if path.exists() and not overwrite:
                raise CheckpointExistsError(f"A model named '{stem}' already exists; choose another "
                                            "name or confirm replacing it.")
            self._check_quota(path, _state_dict_bytes(model))
            save_checkpoint(path, model, meta, overwrite=overwrite)
            try:
                self._check_quota(path, 0, saved=True)
            except QuotaError:
                # Metadata made the file larger than the estimate: never keep a file over quota.
                path.unlink(missing_ok=True)
                raise
        return self._entry("own", path, meta)

    def delete(self, ref: str) -> None:
        """Delete one of this workspace's models; bundled models cannot be deleted. Only a regular
        file named `<stem>.safetensors` directly in this workspace's folder is ever removed (the
        ref's stem cannot hold a path separator or start with a dot; a symlink is refused)."""
        kind, _ = _parse_ref(ref)
        if kind != "own":
            raise WorkspaceError("Models that ship with CNN Lab cannot be deleted.", code="bundled_readonly")
        with self._lock():
            path = self._path_of(ref)  # checked under the lock: a save of the same name waits
            if path.parent.resolve() != self.folder.resolve():
                raise WorkspaceError("This model does not exist in your workspace (it may have been deleted).",
                                     code="no_model")
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ internals
    def _entry(self, kind: str, path: Path, meta: dict[str, Any]) -> ModelEntry:
        return ModelEntry(f"{kind}:{path.stem}", display_name(meta.get("name"), fallback=display_name(path.stem)),
                          kind == "bundled", _size(path), meta)

    def _path_of(self, ref: str) -> Path:
        kind, stem = _parse_ref(ref)
        folder = self.root if kind == "bundled" else self.folder
        path = folder / f"{stem}.safetensors"
        if (kind == "bundled" and path.name not in BUNDLED_NAMES) or not path.is_file() or path.is_symlink():
            raise WorkspaceError("This model does not exist in your workspace (it may have been deleted).",
                                 code="no_model")
        return path

    def _own_files(self) -> list[Path]:
        return [p for p in self.folder.glob("*.safetensors") if p.is_file()] if self.folder.is_dir() else []

    def _check_quota(self, path: Path, new_bytes: int, saved: bool = False) -> None:
        files = self._own_files()
        others = [f for f in files if f != path]
        count = len(others) + 1
        total = sum(_size(f) for f in others) + (_size(path) if saved else new_bytes)
        lim = self.limits
        if lim.max_models is not None and count > lim.max_models:
            e = LimitError("models", count, lim.max_models)
            raise QuotaError(str(e), code="quota_models", **e.details)
        if lim.max_workspace_bytes is not None and total > lim.max_workspace_bytes:
            e = LimitError("workspace_bytes", total, lim.max_workspace_bytes)
            raise QuotaError(str(e), code="quota_bytes", **e.details)
        if self.ledger is not None:
            self._check_budgets(path, new_bytes, saved)

    def _check_budgets(self, path: Path, new_bytes: int, saved: bool) -> None:
        """The client's disk over all their workspaces, and the server's disk, after this save.

        A full server refuses the save rather than evicting older models: eviction would delete
        someone's saved work without asking, while a refusal loses nothing and says what to do
        (delete a model of one's own, or ask the teacher)."""
        budgets = self.ledger.budgets()
        replaced = 0 if saved else _size(path)       # an overwrite frees the old file
        added = 0 if saved else new_bytes
        client = self.ledger.creator_of(self.id) or self.client
        if client is not None:
            used = self.ledger.client_disk_bytes(client)
            if self.ledger.creator_of(self.id) is None:  # a workspace the ledger does not know yet
                used += sum(_size(f) for f in self._own_files())
            total = used - replaced + added
            if total > budgets.client_disk_bytes:
                raise QuotaError(f"Your saved models would take {format_bytes(total)} — this server keeps "
                                 f"at most {format_bytes(budgets.client_disk_bytes)} per visitor; delete "
                                 "a model first.", code="quota_client_bytes",
                                 value=format_bytes(total), limit=format_bytes(budgets.client_disk_bytes))
        total = self.ledger.server_disk_bytes() - replaced + added
        if total > budgets.server_disk_bytes:
            raise QuotaError("The server's disk for saved models is full; delete a model of your own or "
                             "ask the teacher to make room.", code="server_full",
                             limit=format_bytes(budgets.server_disk_bytes))

    def _lock(self):
        """Saves and deletes of one workspace one at a time (two tabs of one visitor)."""
        return folder_lock(self.folder)


def _parse_ref(ref: Any) -> tuple[str, str]:
    m = _REF_RE.fullmatch(ref) if isinstance(ref, str) else None
    if m is None or m.group(2).startswith("."):
        raise WorkspaceError("This model does not exist in your workspace (it may have been deleted).",
                             code="no_model")
    return m.group(1), m.group(2)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _state_dict_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def _clean_once(root: Path) -> None:
    """Remove the temporary files of interrupted saves once per process and root (start-up)."""
    key = root.resolve() if root.exists() else root
    if key not in _cleaned_roots:
        _cleaned_roots.add(key)
        clean_stale_temp_files(root)


__all__ = ["Workspace", "WorkspaceError", "QuotaError", "ModelEntry", "Usage", "new_secret",
           "workspace_id", "is_valid_secret", "is_issued", "display_name", "WORKSPACES"]
