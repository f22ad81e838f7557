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
BACKEND = "CNN_LAB_BACKEND"                      # "local", "process" or "ray"; $RAY_ADDRESS implies "ray"
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

BACKENDS = ("local", "process", "ray")
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


def switch(name: str, default: bool, allowed: str, environ: Mapping[str, str] | None = None) -> bool:
    """An on/off setting: unset means `default`; 1/true/yes/on or 0/false/no/off; anything else
    raises SettingsError with `allowed` (what to write instead)."""
    raw = _raw(name, environ)
    if raw is None:
        return default
    if raw.lower() in _YES:
        return True
    if raw.lower() in _NO:
        return False
    raise SettingsError(name, raw, allowed)


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
    """$CNN_LAB_BACKEND when set, else "ray" when $RAY_ADDRESS is set, else "process" on a class
    server ($CNN_LAB_TEACHER_KEY set: training in worker processes that cannot take the web
    server down), else "local" (a laptop: one learner, training in the server's threads)."""
    raw = _raw(BACKEND, environ)
    if raw is None:
        if ray_address(environ):
            return "ray"
        return "process" if teacher_key(environ) else "local"
    if raw.lower() not in BACKENDS:
        raise SettingsError(BACKEND, raw, "use 'local', 'process' or 'ray'")
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
    return switch(BEHIND_PROXY, False, "use 1 (behind a proxy that sets X-Forwarded-For) or 0", environ)


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


# --------------------------------------------------------------------------- branch runtime:
# training in worker processes (core.jobs.process_backend) and per-run time caps (core.jobs.caps).
WORKER_NICE = "CNN_LAB_WORKER_NICE"              # niceness added to a training process (0–19)
WORKER_MEMORY_MB = "CNN_LAB_WORKER_MEMORY_MB"    # a training process's data-memory limit
WORKER_THREADS = "CNN_LAB_WORKER_THREADS"        # torch threads per training process
MAX_RUN_SECONDS = "CNN_LAB_MAX_RUN_SECONDS"      # the longest estimated run Start accepts
RUN_OVERRUN = "CNN_LAB_RUN_OVERRUN"              # a run is stopped at its estimate × this
DEFAULT_WORKER_NICE = 10
DEFAULT_WORKER_MEMORY_MB = 2048
DEFAULT_MAX_RUN_SECONDS_CLASS = 600              # a class server (CNN_LAB_TEACHER_KEY set); a laptop: none
DEFAULT_RUN_OVERRUN = 2.0


def worker_nice(environ: Mapping[str, str] | None = None) -> int:
    """How much lower a training process's CPU priority is than the web server's (0–19)."""
    raw = _raw(WORKER_NICE, environ)
    if raw is None:
        return DEFAULT_WORKER_NICE
    if not raw.isdigit() or int(raw) > 19:
        raise SettingsError(WORKER_NICE, raw, "give a whole number from 0 to 19 (or leave it unset)")
    return int(raw)


def worker_memory_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The memory one training process may allocate (its data segment, RLIMIT_DATA)."""
    value = amount(WORKER_MEMORY_MB, MB, environ)
    return value if value is not None else DEFAULT_WORKER_MEMORY_MB * MB


def worker_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """torch threads per training process; None: the cores shared among the runs at once."""
    return whole(WORKER_THREADS, None, environ)


def max_run_seconds(environ: Mapping[str, str] | None = None) -> int | None:
    """The longest run (by its estimate) Start accepts, and the cap that arms the overrun stop:
    10 min on a class server; none on a laptop (its one learner waits for nobody but
    themselves, and a big model's 20 epochs may honestly take hours there)."""
    return whole(MAX_RUN_SECONDS, DEFAULT_MAX_RUN_SECONDS_CLASS if teacher_key(environ) else None, environ)


def overrun_factor(environ: Mapping[str, str] | None = None) -> float:
    """A run still training at its estimate × this (and at least a minute over it) is stopped."""
    raw = _raw(RUN_OVERRUN, environ)
    if raw is None:
        return DEFAULT_RUN_OVERRUN
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1:
        raise SettingsError(RUN_OVERRUN, raw, "give a number of at least 1, e.g. 2 (or leave it unset)")
    return value


def snapshot() -> tuple[tuple[str, str], ...]:
    """Every CNN_LAB_* variable as it is now, for a training process to `adopt` (a worker forked
    by a fork server would otherwise see the settings of when that server started)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CNN_LAB_")))


def adopt(settings_now: tuple[tuple[str, str], ...]) -> None:
    """Make this process's CNN_LAB_* variables exactly `settings_now` (in a training process)."""
    for key in [k for k in os.environ if k.startswith("CNN_LAB_")]:
        del os.environ[key]
    os.environ.update(dict(settings_now))


# --------------------------------------------------------------------------- durable runs
# (branch durable: core.jobs.registry)
RUN_REGISTRY = "CNN_LAB_RUN_REGISTRY"              # 0: runs in memory only; a folder: keep them there
RUN_RETENTION_DAYS = "CNN_LAB_RUN_RETENTION_DAYS"  # stored runs older than this are deleted
DEFAULT_RUN_RETENTION_DAYS = 7


def run_registry_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the run registry lives: $CNN_LAB_RUN_REGISTRY when it names a folder; 1: the
    checkpoint folder's runs/ ($CNN_LAB_CHECKPOINT_DIR, else the repo's checkpoints/ — what
    `make run` and `make class` set); unset: $CNN_LAB_CHECKPOINT_DIR/runs, or None when no
    checkpoint folder is set (tests and a bare `streamlit run` keep runs in memory); 0/off: None."""
    raw = _raw(RUN_REGISTRY, environ)
    if raw is not None and raw.lower() in _NO:
        return None
    if raw is None or raw.lower() in _YES:
        base = checkpoint_dir(environ)
        if base is None and raw is not None:  # "1" on a server with the repo's own checkpoints/
            base = Path(__file__).resolve().parent.parent / "checkpoints"
        return None if base is None else base / "runs"
    return Path(raw).expanduser()


def run_retention_days(environ: Mapping[str, str] | None = None) -> float:
    """Days a stored run is kept (default 7; fractions allowed)."""
    raw = _raw(RUN_RETENTION_DAYS, environ)
    if raw is None:
        return float(DEFAULT_RUN_RETENTION_DAYS)
    try:
        days = float(raw)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days <= 0 or days > 3650:
        raise SettingsError(RUN_RETENTION_DAYS, raw, "give a number of days above 0 (e.g. 7)")
    return days


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


# --------------------------------------------------------------------------- multi21: one class, several app servers
# "ray": the queue and the run registry live in one detached, named Ray actor (core.jobs.class_hub)
# that every app server on the cluster reaches through a proxy (core.jobs.hub_proxy); unset: each
# app server keeps its own queue (the default). The hub's name and Ray namespace let two classes
# share one cluster.
SHARED_QUEUE = "CNN_LAB_SHARED_QUEUE"
CLASS_HUB = "CNN_LAB_CLASS_HUB"
SHARED_QUEUES = ("ray",)
DEFAULT_CLASS_HUB = "cnn-lab-class"
_HUB_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def shared_queue(environ: Mapping[str, str] | None = None) -> str | None:
    """"ray" when the queue is shared through the class hub, None when each server has its own."""
    raw = _raw(SHARED_QUEUE, environ)
    if raw is None or raw.lower() in _NO:
        return None
    if raw.lower() not in SHARED_QUEUES:
        raise SettingsError(SHARED_QUEUE, raw, "use 'ray' (or leave it unset for one queue per server)")
    return raw.lower()


def class_hub(environ: Mapping[str, str] | None = None) -> str:
    """The hub actor's name (also its Ray namespace): one per class on a shared cluster."""
    raw = _raw(CLASS_HUB, environ)
    if raw is None:
        return DEFAULT_CLASS_HUB
    if not (1 <= len(raw) <= 60) or set(raw) - _HUB_NAME_OK:
        raise SettingsError(CLASS_HUB, raw, "use 1-60 letters, digits, '-' or '_'")
    return raw


# --------------------------------------------------------------------------- resuming after a restart
RESUME_RUNS = "CNN_LAB_RESUME_RUNS"   # 1 (default): runs cut off by a restart continue by themselves


def resume_runs(environ: Mapping[str, str] | None = None) -> bool:
    """Whether runs a server restart cut off continue from their last epoch on their own (default)
    or wait, shown as "interrupted by a server restart", for their owner to start them again (for a
    teacher who wants the queue empty after a crash)."""
    return switch(RESUME_RUNS, True, "use 1 (continue by themselves) or 0 (wait for a restart button)", environ)


# --------------------------------------------------------------------------- your own classes
MAX_EXAMPLES = "CNN_LAB_MAX_EXAMPLES"              # examples in one workspace's set
MAX_CLASS_EXAMPLES = "CNN_LAB_MAX_CLASS_EXAMPLES"  # examples in one class
MAX_DATA_MB = "CNN_LAB_MAX_DATA_MB"                # disk used by one workspace's set


def own_classes_limits(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """core.userdata.DataLimits field -> value for each of its limits that is set."""
    chosen = {"max_examples": whole(MAX_EXAMPLES, None, environ),
              "max_per_class": whole(MAX_CLASS_EXAMPLES, None, environ),
              "max_bytes": amount(MAX_DATA_MB, MB, environ)}
    return {field: value for field, value in chosen.items() if value is not None}


# --------------------------------------------------------------------------- every setting at once
def check(environ: Mapping[str, str] | None = None) -> None:
    """Read every setting once: SettingsError for the first unusable one (call at start-up)."""
    for reader in (training_workers, runs_per_visitor, max_queue, max_epochs, backend, ray_threads,
                   max_gallery, max_gallery_per_visitor, limit_overrides, behind_proxy, heavy_slots,
                   budget_overrides, worker_nice, worker_memory_bytes, worker_threads,
                   max_run_seconds, overrun_factor, run_registry_dir, run_retention_days,
                   shared_queue, class_hub, resume_runs, own_classes_limits):
        reader(environ)
