"""Every server setting CNN Lab reads from the environment, read here and nowhere else.

A hosted server is configured without code, by CNN_LAB_* variables (README, "Settings"). One policy
for all of them: an unset or empty variable means the default; a value that cannot be used stops
the server with a `SettingsError` whose one sentence names the variable and what it allows — a
typo in a limit must not quietly give a class the default (or no) limit. `check()` reads every
setting at once, so a server can refuse to start instead of failing on the first page that needs
one. Deprecated names are still honoured (the new name wins when both are set).

Every reader takes an optional `environ` mapping (default: os.environ), read at call time, so a
test or a bench sets a variable and the next reader sees it.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

MB = 1024 * 1024

# --------------------------------------------------------------------------- the variables
TRAINING_WORKERS = "CNN_LAB_TRAINING_WORKERS"    # runs training at once (core.jobs)
MAX_TRAINING_JOBS = "CNN_LAB_MAX_TRAINING_JOBS"  # deprecated name of TRAINING_WORKERS
RUNS_PER_VISITOR = "CNN_LAB_RUNS_PER_VISITOR"    # running-or-waiting runs per visitor
MAX_QUEUE = "CNN_LAB_MAX_QUEUE"                  # waiting runs on the server
MAX_EPOCHS = "CNN_LAB_MAX_EPOCHS"                # epochs per run
BACKEND = "CNN_LAB_BACKEND"                      # "local" or "ray"; $RAY_ADDRESS implies "ray"
RAY_ADDRESS = "RAY_ADDRESS"                      # Ray's own variable: the cluster to join
RAY_THREADS = "CNN_LAB_RAY_THREADS"              # torch threads (and Ray CPUs) per Ray run
DATA_DIR = "CNN_LAB_DATA_DIR"                    # folder with <Name>/raw/*-ubyte(.gz)
CHECKPOINT_DIR = "CNN_LAB_CHECKPOINT_DIR"        # where workspaces and the gallery live
MAX_GALLERY = "CNN_LAB_MAX_GALLERY"              # gallery entries on the server
MAX_GALLERY_PER_VISITOR = "CNN_LAB_MAX_GALLERY_PER_VISITOR"
TEACHER_KEY = "CNN_LAB_TEACHER_KEY"              # unset: no Class page
DEBUG = "CNN_LAB_DEBUG"                          # the command line prints tracebacks
BEHIND_PROXY = "CNN_LAB_BEHIND_PROXY"            # 1: trust the first X-Forwarded-For hop (core.clients)
HEAVY_SLOTS = "CNN_LAB_HEAVY_SLOTS"              # image decodes + checkpoint loads at once (core.heavy)
# Per-client and server budgets (core.budgets.Budgets): variable -> (field, multiplier).
BUDGET_VARS: dict[str, tuple[str, int]] = {
    "CNN_LAB_WORKSPACES_PER_HOUR": ("workspaces_per_hour", 1),
    "CNN_LAB_CLIENT_DISK_MB": ("client_disk_bytes", MB),
    "CNN_LAB_SERVER_DISK_MB": ("server_disk_bytes", MB),
    "CNN_LAB_GALLERY_PER_CLIENT": ("gallery_per_client", 1),
}

BACKENDS = ("local", "ray")
DEFAULT_RUNS_PER_VISITOR = 1
DEFAULT_MAX_QUEUE = 60
DEFAULT_MAX_EPOCHS = 20
DEFAULT_MAX_GALLERY = 60
DEFAULT_MAX_GALLERY_PER_VISITOR = 3
DEFAULT_HEAVY_SLOTS = 2
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

# Server limits (core.limits.Limits): variable -> (field, multiplier). Sizes in MB, counts plain.
LIMIT_VARS: dict[str, tuple[str, int]] = {
    "CNN_LAB_MAX_PARAMS": ("max_params", 1),
    "CNN_LAB_MAX_MULT_ADDS": ("max_mult_adds", 1),
    "CNN_LAB_MAX_ACTIVATION_MB": ("max_activation_bytes", MB),
    "CNN_LAB_MAX_LAYERS": ("max_layers", 1),
    "CNN_LAB_MAX_KERNEL": ("max_kernel", 1),
    "CNN_LAB_MAX_PADDING": ("max_padding", 1),
    "CNN_LAB_MAX_MODELS": ("max_models", 1),
    "CNN_LAB_MAX_WORKSPACE_MB": ("max_workspace_bytes", MB),
    "CNN_LAB_MAX_IMAGE_MB": ("max_image_bytes", MB),
    "CNN_LAB_MAX_IMAGE_PIXELS": ("max_image_pixels", 1),
    "CNN_LAB_MAX_CHECKPOINT_MB": ("max_checkpoint_bytes", MB),
}


class SettingsError(ValueError):
    """A server setting that cannot be used: one sentence naming the variable and what it allows."""

    def __init__(self, name: str, raw: str, allowed: str):
        super().__init__(f"{name}={raw!r} is not a usable setting; {allowed}.")
        self.name, self.raw = name, raw


# --------------------------------------------------------------------------- readers

def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    """The variable's value, stripped; None when unset or blank (= use the default)."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def whole(name: str, default: int | None, environ: Mapping[str, str] | None = None) -> int | None:
    """A whole number of at least 1, or `default` when unset."""
    raw = _raw(name, environ)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(name, raw, "give a whole number of at least 1 (or leave it unset)")
    return value


def amount(name: str, unit: int = 1, environ: Mapping[str, str] | None = None) -> int | None:
    """A positive number (fractions allowed) times `unit`, rounded down; None when unset."""
    raw = _raw(name, environ)
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0 or number * unit >= 2**62 or int(number * unit) < 1:
        raise SettingsError(name, raw, "give a positive number (or leave it unset)")
    return int(number * unit)


def text(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    return _raw(name, environ)


def folder(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    raw = _raw(name, environ)
    return None if raw is None else Path(raw).expanduser()


# --------------------------------------------------------------------------- the settings

def training_workers(environ: Mapping[str, str] | None = None) -> int | None:
    """$CNN_LAB_TRAINING_WORKERS, else the deprecated $CNN_LAB_MAX_TRAINING_JOBS; None when
    neither is set (the backend then suggests a number)."""
    chosen = whole(TRAINING_WORKERS, None, environ)
    return chosen if chosen is not None else whole(MAX_TRAINING_JOBS, None, environ)


def runs_per_visitor(environ: Mapping[str, str] | None = None) -> int:
    return whole(RUNS_PER_VISITOR, DEFAULT_RUNS_PER_VISITOR, environ)


def max_queue(environ: Mapping[str, str] | None = None) -> int:
    return whole(MAX_QUEUE, DEFAULT_MAX_QUEUE, environ)


def max_epochs(environ: Mapping[str, str] | None = None) -> int:
    return whole(MAX_EPOCHS, DEFAULT_MAX_EPOCHS, environ)


def ray_address(environ: Mapping[str, str] | None = None) -> str | None:
    return text(RAY_ADDRESS, environ)


def backend(environ: Mapping[str, str] | None = None) -> str:
    """$CNN_LAB_BACKEND when set, else "ray" when $RAY_ADDRESS is set, else "local"."""
    raw = _raw(BACKEND, environ)
    if raw is None:
        return "ray" if ray_address(environ) else "local"
    if raw.lower() not in BACKENDS:
        raise SettingsError(BACKEND, raw, "use 'local' or 'ray'")
    return raw.lower()


def ray_threads(environ: Mapping[str, str] | None = None) -> int | None:
    return whole(RAY_THREADS, None, environ)


def data_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    return folder(DATA_DIR, environ)


def checkpoint_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    return folder(CHECKPOINT_DIR, environ)


def max_gallery(environ: Mapping[str, str] | None = None) -> int:
    return whole(MAX_GALLERY, DEFAULT_MAX_GALLERY, environ)


def max_gallery_per_visitor(environ: Mapping[str, str] | None = None) -> int:
    return whole(MAX_GALLERY_PER_VISITOR, DEFAULT_MAX_GALLERY_PER_VISITOR, environ)


def teacher_key(environ: Mapping[str, str] | None = None) -> str | None:
    """The teacher's key, or None when the Class page is switched off."""
    return text(TEACHER_KEY, environ)


def debug(environ: Mapping[str, str] | None = None) -> bool:
    return bool(text(DEBUG, environ))


def limit_overrides(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Limits field -> value for every CNN_LAB_MAX_* limit variable that is set."""
    out = {}
    for var, (field, unit) in LIMIT_VARS.items():
        value = amount(var, unit, environ)
        if value is not None:
            out[field] = value
    return out


def behind_proxy(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a reverse proxy in front of this server sets X-Forwarded-For (unset: no)."""
    raw = _raw(BEHIND_PROXY, environ)
    if raw is None or raw.lower() in _NO:
        return False
    if raw.lower() in _YES:
        return True
    raise SettingsError(BEHIND_PROXY, raw, "use 1 (behind a proxy that sets X-Forwarded-For) or 0")


def heavy_slots(environ: Mapping[str, str] | None = None) -> int:
    return whole(HEAVY_SLOTS, DEFAULT_HEAVY_SLOTS, environ)


def budget_overrides(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Budgets field -> value for every per-client / server budget variable that is set."""
    out = {}
    for var, (field, unit) in BUDGET_VARS.items():
        value = amount(var, unit, environ)
        if value is not None:
            out[field] = value
    return out


def check(environ: Mapping[str, str] | None = None) -> None:
    """Read every setting once: SettingsError for the first unusable one (call at start-up)."""
    for reader in (training_workers, runs_per_visitor, max_queue, max_epochs, backend, ray_threads,
                   max_gallery, max_gallery_per_visitor, limit_overrides, behind_proxy, heavy_slots,
                   budget_overrides):
        reader(environ)


# --------------------------------------------------------------------------- sec23b: runs per client
# Runs waiting or training over all workspaces of one client (core.client_runs), and the share of
# the server's queue one client may fill. Both are budgets (core.budgets.Budgets): the teacher can
# raise them for a lesson from the Class page, like the other per-client budgets.
RUNS_PER_CLIENT = "CNN_LAB_RUNS_PER_CLIENT"
QUEUE_SHARE_PERCENT = "CNN_LAB_QUEUE_SHARE_PERCENT"
BUDGET_VARS.update({
    RUNS_PER_CLIENT: ("runs_per_client", 1),
    QUEUE_SHARE_PERCENT: ("queue_share_percent", 1),
})
