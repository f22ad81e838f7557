"""The test doubles every test module shares: a toy dataset, a small model spec and its config, a
scripted training run (`FakeRun`) and the factories that hand it to a job manager.

The fake run yields the same event shapes as core.train.TrainingRun, sleeping between steps (or
waiting for the test to open a gate) and checking its stop event like the real one, so tests that
use it are fast and deterministic. A job manager is given a fake through its local backend's
`run_factory` (directly, or for the app's manager through core.jobs.set_factory — see
`fake_manager_factory`), never by patching a module.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import torch

from core.data import DATASETS, Dataset
from core.jobs import JobManager
from core.models import BN, FLATTEN, RELU, build_model, conv, linear, pool
from core.train import TrainConfig, evaluate

# A small batch-normed CNN of our own, so tests don't move when the presets are tuned.
SPEC = [conv(16, 3, 1, 1), BN, RELU, pool(2), conv(32, 3, 1, 1), BN, RELU, pool(2), FLATTEN, linear(10)]


def toy_dataset(n_train=600, n_test=200, seed=0) -> Dataset:
    """A learnable 10-class toy set: class k is a bright 6×6 block at one of ten places, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, k in enumerate(labels):
            r, c = 3 + (k // 5) * 14, 2 + (k % 5) * 5
            images[i, r:r + 6, c:c + 5] = 255
        return torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels.astype(np.int64))

    tr_x, tr_y = make(n_train)
    te_x, te_y = make(n_test)
    return Dataset(DATASETS["mnist"], tr_x, tr_y, te_x, te_y)


def config(**kw) -> TrainConfig:
    """A config of SPEC, 2 epochs unless told otherwise."""
    return TrainConfig(spec=[dict(layer) for layer in SPEC], **{"epochs": 2, **kw})


def manager(**kw) -> JobManager:
    """A local JobManager with a given rate, so no probe runs and estimates are reproducible."""
    return JobManager(**{"initial_rate": 1e9, **kw})


class FakeRun:
    """Scripted stand-in for TrainingRun: `steps` steps per epoch, `step_seconds` each."""

    def __init__(self, config, data, stop_event, steps=5, step_seconds=0.02, fail_at=None, gate=None):
        self.config, self.data, self.stop_event = config, data, stop_event
        self.steps, self.step_seconds, self.fail_at = steps, step_seconds, fail_at
        self.gate = gate  # a threading.Semaphore: one release lets one step run
        torch.manual_seed(0)
        self.model = build_model(config.spec)
        self.history, self.last_eval = [], None
        self.updates = 0

    def _eval(self):
        x = self.data.normalized(self.data.test_images)
        self.last_eval = evaluate(self.model, x, self.data.test_labels)
        return self.last_eval

    def events(self):
        total = self.steps * self.config.epochs
        yield {"event": "start", "train_size": 64, "test_size": len(self.data.test_labels),
               "steps_per_epoch": self.steps, "total_steps": total, "epochs": self.config.epochs,
               "device": "cpu", "dataset": self.config.dataset}
        step, stopped, completed = 0, False, 0
        for epoch in range(1, self.config.epochs + 1):
            for i in range(self.steps):
                if self.gate is not None:
                    while not self.gate.acquire(timeout=0.005) and not self.stop_event.is_set():
                        pass
                if self.stop_event.is_set():
                    stopped = True
                    break
                time.sleep(self.step_seconds)
                with torch.no_grad():
                    for p in self.model.parameters():
                        p.add_(0.001)
                self.updates += 1
                step += 1
                if self.fail_at == step:
                    raise RuntimeError("simulated failure")
                yield {"event": "step", "step": step, "epoch": epoch,
                       "epoch_progress": (i + 1) / self.steps, "total_steps": total,
                       "loss": 2.0 / step, "accuracy": min(1.0, 0.1 * step), "lr": 1e-3,
                       "images_per_second": 1000.0, "train_seconds": step * self.step_seconds}
            if stopped:
                break
            completed = epoch
            r = self._eval()
            yield {"event": "epoch", "epoch": epoch, "step": step, "train_loss": 1.0,
                   "train_accuracy": 0.5, "test_loss": r.loss, "test_accuracy": r.accuracy,
                   "train_seconds": step * self.step_seconds}
        if stopped:
            yield {"event": "stopped", "step": step, "epoch": epoch, "train_seconds": 0.1}
        r = self._eval()
        yield {"event": "done", "stopped": stopped, "epochs_completed": completed, "steps": step,
               "test_accuracy": r.accuracy, "test_loss": r.loss, "train_seconds": 0.1,
               "images_per_second": 1000.0}


def fake_factory(**kw):
    return lambda config, data, stop_event: FakeRun(config, data, stop_event, **kw)


class Recorder:
    """A run factory that remembers which runs were built, in order (builds happen on dispatch)."""

    def __init__(self, **kw):
        self.kw, self.runs = kw, []

    def __call__(self, config, data, stop_event):
        run = FakeRun(config, data, stop_event, **self.kw)
        self.runs.append(run)
        return run


def fake_manager_factory(run_factory, **kw):
    """A factory for core.jobs.set_factory: the app's job manager, training `run_factory`'s runs
    (JobManager's other settings from the environment, as the app's)."""
    return lambda: JobManager(run_factory=run_factory, **kw)


# --------------------------------------------------------------------------- finished runs

class ReadyRun:
    """A run whose model is already trained: it starts and is done at once, reporting `metrics`
    (test_accuracy, calibration, …) as its final ones."""

    def __init__(self, model, metrics: dict):
        self.model, self.metrics = model, metrics
        self.history, self.last_eval = [], None

    def events(self):
        yield {"event": "start", "train_size": 64, "test_size": 1, "steps_per_epoch": 1,
               "total_steps": 1, "epochs": 1, "device": "cpu"}
        yield {"event": "done", "stopped": False, "epochs_completed": 1, "steps": 1,
               "train_seconds": 0.1, "images_per_second": 1000.0, **self.metrics}


def finished_run(owner: str, ckpt, metrics: dict | None = None):
    """A run of `owner` that finished with `ckpt`'s model (architecture and dataset from the
    checkpoint), on the server's job manager (app.session.job_manager): what a visitor has after
    training on the Train page. Returns the core.jobs.Job."""
    from app.session import job_manager
    from core.train import TrainConfig

    manager = job_manager()
    previous = manager.run_factory
    manager.run_factory = lambda config, data, stop_event: ReadyRun(ckpt.model, metrics or {})
    try:
        toy = toy_dataset(n_train=20, n_test=10)
        data = Dataset(DATASETS[ckpt.dataset], toy.train_images, toy.train_labels, toy.test_images,
                       toy.test_labels)
        job = manager.start(owner, TrainConfig(spec=ckpt.spec, dataset=ckpt.dataset, epochs=1), data)
        assert job.wait(60), "the ready run did not finish"
    finally:
        manager.run_factory = previous
    return job


# --------------------------------------------------------------------------- a class server

TEACHER_KEY = "correct horse battery staple"


@contextmanager
def gated_class_server(monkeypatch, checkpoint_dir, key: str = TEACHER_KEY):
    """What the Class page tests run against: a teacher key, a private checkpoint folder (gallery,
    lesson store and ledger live there) and the app's job manager with one worker whose fake runs
    wait on the yielded `gate` between steps, so every state is deterministic. Yields
    (manager, gate); on the way out every gate is opened and the manager shut down."""
    import threading

    import streamlit as st

    from core import jobs

    monkeypatch.setenv("CNN_LAB_TEACHER_KEY", key)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(checkpoint_dir))
    gate = threading.Semaphore(0)
    manager = JobManager(workers=1, run_factory=fake_factory(steps=3, step_seconds=0, gate=gate),
                         initial_rate=1e9)
    previous = jobs.set_factory(lambda: manager)
    st.cache_resource.clear()   # the app's job_manager() builds its manager anew, from the factory
    try:
        yield manager, gate
    finally:
        for _ in range(200):
            gate.release()
        manager.shutdown()
        jobs.set_factory(previous)
        st.cache_resource.clear()
