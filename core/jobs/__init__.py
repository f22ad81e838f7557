"""Server-wide training jobs: a fair queue in front of a fixed number of workers, one backend
interface (local threads, local worker processes or a Ray cluster), polled by the web page. No Streamlit here: the bench
and the tests drive the same code.

One module per job:
  states      a job's states and the errors the manager raises
  snapshots   the probe image's feature maps, recorded between events
  estimates   what a run costs and when waiting runs start (pure functions)
  job         one job, the sink a backend writes through, the read-only view of a watch link
  backend     the backend interface and the local backend
  process_backend  the process backend: each run in a niced, memory-capped worker process
              (imported only when chosen; the default on a class server)
  ray_backend the Ray backend (imported only when chosen)
  polling     how often a page polls a run (every second while it trains, less while it waits;
              its charts every few seconds)
  caps        per-run time caps: refusal at Start, the overrun stop
  manager     the queue, the workers, limits, estimates; `make_job_manager` and `set_factory`
  cli         the command line's bridge (`BackendRun`)
  serving     `make_job_manager`: this server's own manager, or the class hub's proxy
  class_hub   the class hub: one detached Ray actor owning the queue and registry of a class
  hub_proxy   an app server's JobManager-like proxy to the class hub
`from core.jobs import X` keeps working for every public name below.
"""
from core import settings as _settings
from core.jobs.backend import (DEFAULT_WORKERS, Backend, LocalBackend, RunFactory, RunRequest,
                               train_locally)
from core.jobs.cli import BackendRun
from core.jobs.estimates import TRAIN_PASSES, format_seconds, machine_rate, probe_rate, run_work, schedule
from core.jobs.job import MAX_NICKNAME, BoardRow, Job, JobSink, JobStatus, JobView, clean_nickname
from core.jobs.manager import JobManager, backend_name_from_env, make_backend, set_factory
from core.jobs.polling import CHART_SECONDS, LIVE_SECONDS, WAITING_SECONDS, chart_poll_seconds, poll_seconds
from core.jobs.serving import make_job_manager
from core.jobs.snapshots import (PROBE_INDEX, FeatureSnapshot, LayerMaps, capture_features,
                                 events_with_snapshots)
from core.jobs.states import (ACTIVE_STATES, CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, STARTING,
                              STOPPED, STOPPING, TRAINING_STATES, BackendError, JobLimitError,
                              RunFailed)

# The settings the manager reads (core.settings reads every one of them).
WORKERS_ENV = _settings.TRAINING_WORKERS
MAX_JOBS_ENV = _settings.MAX_TRAINING_JOBS   # deprecated name of WORKERS_ENV, still honoured
PER_OWNER_ENV = _settings.RUNS_PER_VISITOR
MAX_QUEUE_ENV = _settings.MAX_QUEUE
MAX_EPOCHS_ENV = _settings.MAX_EPOCHS
BACKEND_ENV = _settings.BACKEND

__all__ = [
    "ACTIVE_STATES", "BACKEND_ENV", "CANCELLED", "CHART_SECONDS", "DEFAULT_WORKERS", "FAILED", "FINISHED",
    "MAX_EPOCHS_ENV", "MAX_JOBS_ENV", "MAX_NICKNAME", "MAX_QUEUE_ENV", "PER_OWNER_ENV",
    "PROBE_INDEX", "QUEUED", "RUNNING", "STARTING", "STOPPED", "STOPPING", "TRAINING_STATES",
    "TRAIN_PASSES", "WORKERS_ENV", "Backend", "BackendError", "BackendRun", "BoardRow",
    "FeatureSnapshot", "Job", "JobLimitError", "JobManager", "JobSink", "JobStatus", "JobView",
    "LIVE_SECONDS", "LayerMaps", "LocalBackend", "RunFactory", "RunFailed", "RunRequest",
    "WAITING_SECONDS", "backend_name_from_env",
    "capture_features", "chart_poll_seconds", "clean_nickname", "events_with_snapshots", "format_seconds",
    "machine_rate", "make_backend", "make_job_manager", "poll_seconds", "probe_rate", "run_work", "schedule",
    "set_factory", "train_locally",
]
