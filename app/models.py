"""The models a visitor can use, listed on demand: bundled, their own saved ones, their finished
runs (not saved yet), the class gallery.

Built from the job manager and the workspace every time it is asked, never copied into the
session: a run that finishes while the Predict page is open is in the next run's list, and a run
is named by its job id (a translated label is for display only).
"""
from __future__ import annotations

from app.format import pct
from app.session import job_manager, owner, workspace
from app.ui import load_saved_checkpoint, t
from core import gallery
from core.confidence import recorded_accuracy
from core.jobs import FAILED

RUN_PREFIX = "run:"  # "run:<job id>": a finished run of this visitor that is not saved


class RunGone(KeyError):
    """The run a model ref names is not (or no longer) one of this visitor's finished runs."""


def run_ref(job_id: str) -> str:
    return f"{RUN_PREFIX}{job_id}"


def run_name(job) -> str:
    """"Run 3 · lenet · 98.7%": how a finished run is named wherever its model is offered."""
    return t("train.model_name", n=job.number, arch=job.preset or t("train.custom"),
             acc=pct(job.metrics().get("test_accuracy")))


def finished_runs() -> list:
    """This visitor's runs that ended with a model (done or stopped early), oldest first."""
    return [job for job in job_manager().jobs(owner())
            if not job.active and job.state != FAILED and job.model is not None]


def _finished_run(job_id: str):
    job = job_manager().get(job_id, owner())  # None for another visitor's run
    if job is None or job.active or job.state == FAILED or job.model is None:
        raise RunGone(job_id)
    return job


def run_checkpoint(job_id: str):
    """The model of one of this visitor's finished runs, as an in-memory checkpoint."""
    from core.checkpoint import from_model

    job = _finished_run(job_id)
    name = run_name(job)
    return from_model(job.model, job.checkpoint_metadata(name))


def model_refs() -> list[tuple[str, str, object]]:
    """(ref, kind, source) for every model this visitor may use, in the order to offer them:
    kind is "bundled", "own", "run" or "gallery"; source is the workspace entry, the job or the
    gallery entry. Never another visitor's private models: only the workspace lists saved files,
    and only this visitor's runs are read."""
    refs: list[tuple[str, str, object]] = []
    for entry in workspace().list_models():
        refs.append((entry.ref, "bundled" if entry.bundled else "own", entry))
    refs.extend((run_ref(job.id), "run", job) for job in finished_runs())
    refs.extend((f"gallery:{entry.id}", "gallery", entry) for entry in gallery.list_entries())
    return refs


def dataset_title(name: str) -> str:
    from core.data import CUSTOM, DATASETS

    if name == CUSTOM:
        return t("classes.nav")  # a model of the visitor's own classes: its names are in the model
    info = DATASETS.get(name)
    return info.title if info else str(name)


def _two_decimals(acc: float | None) -> str:
    return "?" if acc is None else f"{100 * acc:.2f}"


def saved_label(meta: dict, kind: str, name: str) -> str:
    """"mnist-default — MNIST, 99.52% test accuracy · ships with CNN Lab" (kind: bundled, own)."""
    acc, dataset = recorded_accuracy(meta), dataset_title(meta.get("dataset", "?"))
    text = (t("predict.model_label_noacc", name=name, dataset=dataset) if acc is None
            else t("predict.model_label", name=name, dataset=dataset, acc=_two_decimals(acc)))
    return text + " · " + t(f"predict.model_kind_{kind}")


def gallery_label(entry) -> str:
    """"★ digits-v2 — by Mia · 98.91% test accuracy · class gallery" (the star: featured)."""
    key = "predict.model_label_gallery" if entry.test_accuracy is not None else "predict.model_label_gallery_noacc"
    text = t(key, name=entry.name, nickname=entry.nickname, acc=_two_decimals(entry.test_accuracy))
    return ("★ " if entry.featured else "") + text


def model_options() -> dict[str, str]:
    """Ref -> label of every model this visitor may use (see model_refs), in that order."""
    options = {}
    for ref, kind, source in model_refs():
        if kind == "run":
            options[ref] = t("predict.model_label_session", name=run_name(source),
                             dataset=dataset_title(source.config.dataset))
        elif kind == "gallery":
            options[ref] = gallery_label(source)
        else:
            options[ref] = saved_label(source.meta, kind, source.name)
    return options


def load_model(ref: str):
    """The model a ref names: saved files are loaded once per file and modification time (shared
    by all sessions); a run's model is this visitor's own. Raises core.checkpoint.CheckpointError,
    OSError, or RunGone (a KeyError) for a run that is not there."""
    kind, _, rest = ref.partition(":")
    if kind == "run":
        return run_checkpoint(rest)
    path = gallery.model_path(rest) if kind == "gallery" else workspace().model_path(ref)
    return load_saved_checkpoint(path)


def legacy_file_ref(ref: str) -> str | None:
    """An older "file:<path>" request as a ref of this visitor's workspace, else None: a path
    never reaches another visitor's models."""
    from pathlib import Path

    path = Path(ref.removeprefix("file:"))
    ws = workspace()
    return next((entry.ref for entry in ws.list_models() if ws.model_path(entry.ref) == path), None)


__all__ = ["RUN_PREFIX", "RunGone", "run_ref", "run_name", "finished_runs", "run_checkpoint",
           "model_refs", "model_options", "dataset_title", "saved_label",
           "gallery_label", "load_model", "legacy_file_ref"]
