"""A finished run, image by image: what it predicted, where it was wrong, a random draw.

The Train page (the owner's results tab and a watch link's read-only view) shows these; the
choices behind them live here: every probability is temperature-scaled as the Predict page shows
it, mistakes are listed most confident first, and the predictions are exactly those the
confusion matrix counted (the run's own final test evaluation, not a new forward pass).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from core import calibration
from core import samples as test_samples
from core.train import TrainConfig

_CONFIG_FIELDS = {f.name for f in fields(TrainConfig)}


def config_of(job) -> TrainConfig:
    """A run's settings as a TrainConfig: a Job's own, or one rebuilt from the dict a watch
    link's JobView hands out (a copy: the view cannot change the run)."""
    config = job.config
    if isinstance(config, TrainConfig):
        return config
    return TrainConfig(**{k: v for k, v in dict(config).items() if k in _CONFIG_FIELDS})


def temperature(job) -> float:
    """The softmax temperature fitted after training (1.0 when none was)."""
    return calibration.temperature_from_meta(job.metrics())


def predictions(job) -> tuple[np.ndarray, np.ndarray]:
    """Every test image's predicted class (as the confusion matrix counted them) and the
    probability the model gave it (temperature-scaled)."""
    r = job.result
    predicted = test_samples.evaluation_predictions(r.labels, r.wrong_indices, r.wrong_predicted)
    return predicted, test_samples.confidence_of_predictions(r.logits, predicted, temperature(job))


@dataclass(frozen=True)
class Mistakes:
    """The misclassified test images that pass a filter, most confident first.

    indices: test-set indices; true / predicted: their classes; confidence: the probability given
    to the wrong class; total: how many pass the filter (the listing stops at `limit`)."""
    indices: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    total: int


def mistakes(job, true_class: int | None = None, predicted_class: int | None = None,
             limit: int | None = None) -> Mistakes:
    """The run's mistakes whose true / predicted class is the given one (None: any), most
    confident first (ties in test-set order), at most `limit` of them."""
    r = job.result
    true = np.asarray(job.data.test_labels)[r.wrong_indices]
    wrong_pred = np.asarray(r.wrong_predicted)
    confidence = np.asarray(r.wrong_confidence_at(temperature(job)))
    order = np.argsort(-confidence, kind="stable")
    keep = np.ones(len(order), dtype=bool)
    if true_class is not None:
        keep &= true[order] == true_class
    if predicted_class is not None:
        keep &= wrong_pred[order] == predicted_class
    picked = order[keep]
    shown = picked if limit is None else picked[:limit]
    return Mistakes(indices=np.asarray(r.wrong_indices)[shown].astype(np.int64), true=true[shown],
                    predicted=wrong_pred[shown], confidence=confidence[shown], total=int(len(picked)))


def random_draw(job, count: int, seed: int) -> test_samples.Samples:
    """`count` random test images (the same seed, the same draw) with the run's answers."""
    r = job.result
    predicted = test_samples.evaluation_predictions(r.labels, r.wrong_indices, r.wrong_predicted)
    indices = test_samples.draw_indices(r.n, int(count), int(seed))
    return test_samples.from_logits(r.logits, r.labels, indices, temperature(job), predicted)


def suggested_name(config: TrainConfig, test_accuracy: float | None) -> str:
    """The name a Save box starts with: "mnist-fast-97.3" (dataset, preset or "custom", accuracy)."""
    return f"{config.dataset}-{config.preset or 'custom'}-{100 * (test_accuracy or 0):.1f}"
