"""Training as a generator of metric events, and evaluation.

`TrainingRun(config, dataset).events()` yields plain JSON-able dicts:
  {"event": "start", ...}                      once, with the sizes of the run
  {"event": "step", "step", "epoch", "loss", "accuracy", "lr", "images_per_second", ...}
                                               every `log_every` steps; images_per_second is over
                                               the last seconds of steps (metrics.Throughput),
                                               null during the first few (warm-up) steps
  {"event": "epoch", "epoch", "test_loss", "test_accuracy", "train_loss", "train_accuracy", ...}
  {"event": "stopped", "step", "epoch", "train_seconds"}
                                               only when stopped: training has ended, the model is
                                               kept; the final test evaluation follows
  {"event": "done", "test_accuracy", "test_loss", "train_seconds", "stopped", "calibration", ...}
The web app consumes it in a background thread, the command line prints it as JSON lines. Between
two steps (and between test batches of an epoch-end evaluation) the run checks `stop_event`; a
stopped run yields "stopped" at once, then still ends with "done" and keeps its model.
Batches are sliced from tensors already in memory (no Dataset/DataLoader per-item work).

Calibration: a fixed slice of the training set (`calibration_holdout` images, at most a tenth of
it) is set aside before training and never trained on. After the last step — also after a stop —
one temperature is fitted on it (core.calibration) and reported in the "done" event's
"calibration" record, with the expected calibration error before and after scaling on that slice
and on the test set (the test set only measures; nothing is fitted on it).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import calibration, metrics
from core.data import Dataset
from core.limits import Limits, evaluation_batch
from core.models import INPUT_SHAPE, build_model, summary  # noqa: F401 — importable from here as before
from core.recipe import split_sizes
from core.train_state import load_epoch_state, restore_rng, save_epoch_state
from core.transfer import initial_model
# The config lives in its own module (core.recipe uses it too); these names stay importable here.
from core.train_config import (DEVICE_NAMES, OPTIMIZERS, SCHEDULERS, ConfigError,  # noqa: F401
                               TrainConfig, check_config, check_device, config_from_preset)

# The held-out slice is drawn with its own fixed seed, so it is the same images whatever the run's
# seed: runs with different seeds are calibrated (and their ECE measured) on the same data.
HOLDOUT_SEED = 1234
_INIT_LOCK = threading.Lock()


def holdout_indices(n_train: int, holdout: int) -> torch.Tensor:
    """The (sorted) training-set indices of the calibration slice."""
    perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    return perm[:holdout].sort().values


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    lr, wd = config.lr, config.weight_decay
    params = list(params)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd, foreach=True)
    if config.optimizer in ("adam", "adamw"):
        adam = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
        try:
            # The fused kernel does a whole Adam update in one pass: 0.8 ms instead of 2.0 ms per
            # step for the fast preset on 2 CPU cores, ≈ 5% of its training time.
            return adam(params, lr=lr, weight_decay=wd, fused=True)
        except (RuntimeError, ValueError):  # a device without a fused kernel
            return adam(params, lr=lr, weight_decay=wd, foreach=True)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd, foreach=True)
    return torch.optim.Adadelta(params, lr=lr, weight_decay=wd, foreach=True)


def make_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    total = steps_per_epoch * config.epochs
    if config.scheduler == "step":  # halve the learning rate after every epoch
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=steps_per_epoch, gamma=0.5)
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config.scheduler.startswith("onecycle") and total >= 4:  # OneCycleLR needs ≥ 2 steps per phase
        # 25% warm-up then down to lr/1e5: the super-convergence shape. "onecycle" anneals along a
        # cosine; "onecycle_linear" is Smith's original triangle, which keeps a higher rate through
        # the second half of the decay: in one epoch on MNIST that gave ≈ +0.05 points (README).
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=total, pct_start=max(0.25, 2 / total),
            div_factor=10.0, anneal_strategy="linear" if config.scheduler == "onecycle_linear" else "cos")
    return None


def augment_batch(x: torch.Tensor, generator: torch.Generator, background: float) -> torch.Tensor:
    """Random rotation (±10°), scale (0.9–1.1) and shift (±2 px) for a whole batch at once.

    One affine_grid/grid_sample call per batch: no per-image Python work.
    """
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator, device="cpu").to(x.device)
    angle = (u[:, 0] - 0.5) * (2 * math.radians(10))
    scale = 0.9 + 0.2 * u[:, 1]
    shift = (u[:, 2:] - 0.5) * (2 * 2 / 14)  # ±2 px in grid_sample's [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Sample around the background value so the border fill is "no ink", not a normalized zero.
    return F.grid_sample(x - background, grid, align_corners=False, padding_mode="zeros") + background


@dataclass
class EvalResult:
    accuracy: float
    loss: float
    n: int
    confusion: np.ndarray          # [true, predicted] counts
    wrong_indices: np.ndarray      # indices into the evaluated set
    wrong_predicted: np.ndarray
    wrong_confidence: np.ndarray   # softmax probability of the wrong prediction
    per_class_accuracy: np.ndarray
    logits: np.ndarray | None = None   # float32 [N, classes]: for calibration and its diagram
    labels: np.ndarray | None = None   # [N] the true classes, in the same order

    def metrics(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "loss": self.loss, "n": self.n}

    def wrong_confidence_at(self, temperature: float) -> np.ndarray:
        """`wrong_confidence` after temperature scaling: softmax(logits / T) of the wrong prediction."""
        if self.logits is None:
            return self.wrong_confidence
        p = calibration.calibrated_probabilities(self.logits[self.wrong_indices], temperature)
        return p[np.arange(len(self.wrong_indices)), self.wrong_predicted]


class EvaluationStopped(RuntimeError):
    """`evaluate` was given a stop event and it was set before the last batch."""


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 1000, num_classes: int = 10,
             stop_event: threading.Event | None = None) -> EvalResult:
    """Accuracy, mean loss, confusion matrix and the misclassified examples.

    `images` are already normalized float [N, 1, 28, 28]; the model is left in eval mode.
    With `stop_event`, raises EvaluationStopped between batches once the event is set (an
    evaluation of the whole test set can take seconds on a busy CPU).
    """
    model.eval()
    device = next(model.parameters()).device
    total_loss, preds, confs, all_logits = 0.0, [], [], []
    for i in range(0, len(images), batch_size):
        if stop_event is not None and stop_event.is_set():
            raise EvaluationStopped("evaluation stopped")
        x = images[i:i + batch_size].to(device)
        y = labels[i:i + batch_size].to(device)
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        p = logits.softmax(1)
        conf, pred = p.max(1)
        all_logits.append(logits.float().cpu())
        preds.append(pred.cpu())
        confs.append(conf.cpu())
    pred = torch.cat(preds).numpy()
    conf = torch.cat(confs).numpy()
    true = labels.numpy()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (true, pred), 1)
    wrong = np.flatnonzero(pred != true)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(1), 1)
    n = len(true)
    logits_np = torch.cat(all_logits).numpy() if all_logits else np.zeros((0, num_classes), np.float32)
    return EvalResult(float((pred == true).mean()) if n else 0.0, total_loss / max(n, 1), n,
                      confusion, wrong, pred[wrong], conf[wrong], per_class, logits_np, true)


class TrainingRun:
    """One training run: owns the model, yields events, can be stopped between steps."""

    def __init__(self, config: TrainConfig, data: Dataset, stop_event: threading.Event | None = None,
                 model: nn.Module | None = None, limits: Limits | None = None):
        check_config(config, len(data.info.classes), limits)
        self.config, self.data = config, data
        self.stop_event = stop_event or threading.Event()
        self.device = pick_device(config.device)
        # Seeding and building under one lock: torch's generator is global to the process, and two
        # worker threads starting runs at once would otherwise build each other's initial weights
        # (the same seed must give the same run, e.g. a run resumed after a restart).
        with _INIT_LOCK:
            torch.manual_seed(config.seed)
            # A transfer run (config.init_from) starts from a trained model's layers (core.transfer).
            self.model = (model or initial_model(config, len(data.info.classes), limits)).to(self.device)
        if self.device.type == "cpu":
            # oneDNN's convolutions are 30–40% faster in channels-last layout on these CPUs
            # (measured with bench/train_bench.py; see the README performance table).
            self.model = self.model.to(memory_format=torch.channels_last)
        # Evaluation batches are bounded by the same activation limit as training batches.
        self.eval_batch = evaluation_batch(summary(config.spec, num_classes=len(data.info.classes)), limits)
        self.history: list[dict[str, Any]] = []
        self.last_eval: EvalResult | None = None
        self.temperature = 1.0             # fitted at the end of events()

    def stop(self) -> None:
        self.stop_event.set()

    def _split(self) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """(training images, labels) on the device and the held-out (images, labels) on the CPU."""
        images, labels = self.data.train_images, self.data.train_labels
        n = len(labels)
        keep, holdout = split_sizes(n, self.config.fraction, self.config.calibration_holdout)
        held = holdout_indices(n, holdout)
        if holdout:
            pool = torch.ones(n, dtype=torch.bool)
            pool[held] = False
            images, labels = images[pool], labels[pool]
        if keep < len(labels):  # a seeded random subset, so a 10% run still sees every class
            idx = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.config.seed))[:keep]
            images, labels = images[idx], labels[idx]
        held_out = (self.data.normalized(self.data.train_images[held]), self.data.train_labels[held])
        return (self.data.normalized(images).to(self.device), labels.to(self.device)), held_out

    def calibrate(self, holdout: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        """Fit the temperature on the held-out slice; ECE before/after there and on the test set.

        Needs `last_eval` (the final test evaluation, which kept its logits). Without a hold-out
        the temperature stays 1 and only the raw test ECE is reported.
        """
        x, y = holdout
        record: dict[str, Any] = {"temperature": 1.0, "holdout": len(y), "fitted": False}
        if len(y):
            held = evaluate(self.model, x.to(self.device), y, batch_size=self.eval_batch,
                            num_classes=len(self.data.info.classes))
            t = calibration.fit_temperature(held.logits, held.labels)
            before, after = (calibration.bins_from_logits(held.logits, held.labels, v) for v in (1.0, t))
            record.update(temperature=t, fitted=True, holdout_accuracy=held.accuracy,
                          holdout_ece_raw=before.ece, holdout_ece_calibrated=after.ece,
                          holdout_nll_raw=calibration.nll(held.logits, held.labels, 1.0),
                          holdout_nll_calibrated=calibration.nll(held.logits, held.labels, t))
        self.temperature = t = record["temperature"]
        test = self.last_eval
        raw, scaled = (calibration.bins_from_logits(test.logits, test.labels, v) for v in (1.0, t))
        record.update(test_ece_raw=raw.ece, test_ece_calibrated=scaled.ece,
                      test_nll_raw=calibration.nll(test.logits, test.labels, 1.0),
                      test_nll_calibrated=calibration.nll(test.logits, test.labels, t),
                      n_bins=calibration.N_BINS,
                      test_reliability={"raw": raw.to_dict(), "calibrated": scaled.to_dict()})
        return record

    def test_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.data.normalized(self.data.test_images), self.data.test_labels

    def evaluate_test(self, stop_event: threading.Event | None = None) -> EvalResult:
        x, y = self.test_tensors()
        self.last_eval = evaluate(self.model, x.to(self.device), y, batch_size=self.eval_batch,
                                  num_classes=len(self.data.info.classes), stop_event=stop_event)
        return self.last_eval

    def events(self) -> Iterator[dict[str, Any]]:
        cfg = self.config
        (x, y), holdout = self._split()
        n, bs = len(y), int(cfg.batch_size)
        steps_per_epoch = math.ceil(n / bs)
        total_steps = steps_per_epoch * cfg.epochs
        # Frozen layers (a transfer run with config.freeze) are not the optimizer's to change.
        opt = make_optimizer(cfg, (p for p in self.model.parameters() if p.requires_grad))
        sched = make_scheduler(cfg, opt, steps_per_epoch)
        gen = torch.Generator().manual_seed(cfg.seed)
        background = float(-self.data.info.mean / self.data.info.std)
        step, train_seconds, stopped, epoch, completed = 0, 0.0, False, 0, 0
        resumed = load_epoch_state(cfg.epoch_state) if cfg.epoch_state else None
        if resumed is not None and resumed["epoch"] <= cfg.epochs:
            # After a server restart: continue from the last completed epoch with every generator
            # where it was, so the remaining steps are the ones an uninterrupted run takes.
            self.model.load_state_dict(resumed["model"])
            opt.load_state_dict(resumed["optimizer"])
            if sched is not None and resumed["scheduler"] is not None:
                sched.load_state_dict(resumed["scheduler"])
            restore_rng(resumed, gen)
            step, train_seconds = resumed["step"], resumed["train_seconds"]
            epoch = completed = resumed["epoch"]
            yield self._log({"event": "resumed", "epoch": completed, "step": step,
                             "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
                             "train_seconds": train_seconds})
        else:
            resumed = None
        if resumed is None:
            yield self._log({"event": "start", "train_size": n, "holdout_size": len(holdout[1]),
                             "test_size": len(self.data.test_labels),
                             "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
                             "epochs": cfg.epochs, "device": str(self.device), "dataset": cfg.dataset})
        # The images/s readout: averaged over the last seconds of training steps, warm-up left
        # out (a per-event figure swung between ~400 and ~11,000 images/s on a shared CPU).
        throughput = metrics.Throughput()
        for epoch in range(completed + 1, cfg.epochs + 1):
            self.model.train()
            order = torch.randperm(n, generator=gen).to(self.device)
            seen = correct = 0
            loss_sum = 0.0
            for start in range(0, n, bs):
                if self.stop_event.is_set():
                    stopped = True
                    break
                t0 = time.perf_counter()
                idx = order[start:start + bs]
                xb, yb = x[idx], y[idx]
                if cfg.augment:
                    xb = augment_batch(xb, gen, background)
                logits = self.model(xb)
                loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                step += 1
                with torch.no_grad():
                    batch_correct = int((logits.argmax(1) == yb).sum())
                loss_value = float(loss.detach())
                seen += len(yb)
                correct += batch_correct
                loss_sum += loss_value * len(yb)
                step_seconds = time.perf_counter() - t0
                train_seconds += step_seconds
                throughput.add(len(yb), step_seconds)
                if step % cfg.log_every == 0 or start + bs >= n:
                    yield self._log({
                        "event": "step", "step": step, "epoch": epoch,
                        "epoch_progress": min(1.0, (start + bs) / n),
                        "total_steps": total_steps, "loss": loss_value,
                        "accuracy": correct / seen, "batch_accuracy": batch_correct / len(yb),
                        "lr": opt.param_groups[0]["lr"],
                        "images_per_second": throughput.rate(),  # None during the warm-up steps
                        "train_seconds": train_seconds,
                    })
            if stopped:
                break
            completed = epoch
            if cfg.eval_each_epoch or epoch == cfg.epochs:
                try:  # a Stop pressed during this evaluation must not wait for all of it
                    result = self.evaluate_test(stop_event=self.stop_event)
                except EvaluationStopped:
                    stopped = True
                    break
                yield self._log({"event": "epoch", "epoch": epoch, "step": step,
                                 "train_loss": loss_sum / max(seen, 1),
                                 "train_accuracy": correct / max(seen, 1),
                                 "test_loss": result.loss, "test_accuracy": result.accuracy,
                                 "train_seconds": train_seconds})
            if cfg.epoch_state:  # after the epoch event was taken: see core.jobs.registry
                save_epoch_state(cfg.epoch_state, model=self.model, optimizer=opt, scheduler=sched,
                                 generator=gen, epoch=epoch, step=step, train_seconds=train_seconds)
        if stopped:  # training is over: say so now, before the (slow) final evaluation
            yield self._log({"event": "stopped", "step": step, "epoch": epoch,
                             "train_seconds": train_seconds})
        if stopped or self.last_eval is None:
            self.evaluate_test()
        final = self.last_eval
        calib = self.calibrate(holdout)  # a stopped run's kept model is calibrated too
        yield self._log({"event": "done", "stopped": stopped, "epochs_completed": completed,
                         "steps": step, "test_accuracy": final.accuracy, "test_loss": final.loss,
                         "train_seconds": train_seconds,
                         "images_per_second": step and (min(step * bs, n * cfg.epochs) / max(train_seconds, 1e-9)),
                         "calibration": calib})

    def _log(self, event: dict[str, Any]) -> dict[str, Any]:
        self.history.append(event)
        return event
