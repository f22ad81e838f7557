"""The Train page's decisions, in core: start preview and log interval (core.run_start), a
finished run image by image (core.run_results), runs side by side (core.run_compare); against
hand-computed numbers."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.models import PRESETS, summary
from core.run_compare import MAX_DEFAULT_RUNS, compare_row, default_choice
from core.run_results import config_of, mistakes, predictions, random_draw, suggested_name
from core.run_start import StartPreview, log_interval, start_preview
from core.train import ConfigError, EvalResult, TrainConfig

# ------------------------------------------------------------------ core.run_start


@pytest.mark.parametrize("n_train, fraction, batch, epochs, expected", [
    # 60,000 images, 5,000 held out for calibration: 55,000 → 430 steps of 128 → 2 epochs 860 → ⌈860/300⌉ = 3
    (60_000, 1.0, 128, 2, 3),
    # 10% of 60,000 = 6,000 minus the hold-out (capped at a tenth: 600) = 5,400 → 43 steps of 128 → 1 point a step
    (60_000, 0.1, 128, 1, 1),
    # 55,000 / 32 → 1,719 steps × 10 epochs = 17,190 → ⌈17,190/300⌉ = 58
    (60_000, 1.0, 32, 10, 58),
])
def test_log_interval_gives_about_300_points(n_train, fraction, batch, epochs, expected):
    config = TrainConfig(fraction=fraction, batch_size=batch, epochs=epochs)
    assert log_interval(n_train, config) == expected


class Answers:
    """A job manager's three answers, as scripted for one case (what start_preview reads)."""

    def __init__(self, busy, waiting=0, preview=(None, None), error=None):
        self._busy, self._waiting, self._preview, self._error = busy, waiting, preview, error
        self.asked = []

    def busy(self, owner):
        self.asked.append(owner)
        return self._busy, None

    def waiting(self):
        return [object()] * self._waiting

    def preview(self, config, data):
        if self._error:
            raise self._error
        return self._preview


def test_start_preview_free_worker_starts_now_with_its_finish():
    m = Answers(busy=False, waiting=3, preview=(0.0, 125.0))
    assert start_preview(m, "me", TrainConfig(), object()) == StartPreview(False, None, None, 125.0)
    assert m.asked == ["me"], "the owner's own runs are left out of 'busy' by the manager"


def test_start_preview_busy_server_queues_behind_the_waiting_runs():
    m = Answers(busy=True, waiting=2, preview=(40.0, 160.0))
    assert start_preview(m, "me", TrainConfig(), object()) == StartPreview(True, 3, 40.0, 160.0)


@pytest.mark.parametrize("config, data, error", [
    (None, object(), None), (TrainConfig(), None, None), (TrainConfig(), object(), ConfigError("no")),
    (TrainConfig(), object(), ValueError("no")),
])
def test_start_preview_without_an_estimate(config, data, error):
    m = Answers(busy=True, waiting=0, preview=(1.0, 2.0), error=error)
    assert start_preview(m, "me", config, data) == StartPreview(True, 1, None, None)


# ------------------------------------------------------------------ core.run_results

def finished(temperature=None):
    """A run of 6 test images, 3 classes: true 0 1 2 0 1 2; predicted 0 2 2 1 0 2 (wrong: 1, 3, 4)."""
    logits = np.array([[3, 0, 0], [0, 1, 2], [0, 0, 4], [1, 2, 0], [math.log(3), 0, 0], [0, 0, 1]], dtype=np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    wrong = np.array([1, 3, 4])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    result = EvalResult(accuracy=0.5, loss=1.0, n=6, confusion=np.zeros((3, 3)), wrong_indices=wrong,
                        wrong_predicted=np.array([2, 1, 0]), wrong_confidence=p[wrong, [2, 1, 0]],
                        per_class_accuracy=np.zeros(3), logits=logits, labels=labels)
    metrics = {} if temperature is None else {"calibration": {"temperature": temperature}}
    return SimpleNamespace(result=result, data=SimpleNamespace(test_labels=torch.from_numpy(labels)),
                           metrics=lambda: metrics, config=TrainConfig(dataset="kmnist", preset="fast", epochs=3))


def softmax_row(row, k):
    e = np.exp(np.asarray(row, dtype=float))
    return e[k] / e.sum()


def test_predictions_are_those_of_the_evaluation_with_their_probability():
    predicted, confidence = predictions(finished())
    assert predicted.tolist() == [0, 2, 2, 1, 0, 2]
    expected = [softmax_row([3, 0, 0], 0), softmax_row([0, 1, 2], 2), softmax_row([0, 0, 4], 2),
                softmax_row([1, 2, 0], 1), 0.6, softmax_row([0, 0, 1], 2)]  # e^ln3 / (3 + 1 + 1) = 0.6
    assert np.allclose(confidence, expected, atol=1e-6)


def test_predictions_use_the_fitted_temperature():
    _, confidence = predictions(finished(temperature=2.0))
    assert confidence[2] == pytest.approx(softmax_row([0, 0, 2], 2), abs=1e-6)  # logits / 2


def test_mistakes_most_confident_first_filtered_and_capped():
    # wrong images 1, 3, 4 give their wrong class 0.665, 0.665, 0.6: ties keep test-set order
    m = mistakes(finished())
    assert m.indices.tolist() == [1, 3, 4] and m.total == 3
    assert m.true.tolist() == [1, 0, 1] and m.predicted.tolist() == [2, 1, 0]
    assert np.allclose(m.confidence, [softmax_row([0, 1, 2], 2), softmax_row([1, 2, 0], 1), 0.6], atol=1e-6)
    only_ones = mistakes(finished(), true_class=1)
    assert only_ones.indices.tolist() == [1, 4] and only_ones.total == 2
    assert mistakes(finished(), true_class=1, predicted_class=0).indices.tolist() == [4]
    assert mistakes(finished(), predicted_class=2, true_class=0).total == 0
    capped = mistakes(finished(), limit=1)
    assert capped.indices.tolist() == [1] and capped.total == 3, "the count says how many pass the filter"


def test_random_draw_is_fixed_by_its_seed():
    a, b = random_draw(finished(), 4, seed=5), random_draw(finished(), 4, seed=5)
    assert np.array_equal(a.indices, b.indices) and len(a) == 4
    assert np.array_equal(a.indices, np.random.default_rng(5).choice(6, 4, replace=False))
    assert a.predicted.tolist() == [[0, 2, 2, 1, 0, 2][i] for i in a.indices]


def test_config_of_a_job_and_of_a_watch_view():
    job = finished()
    assert config_of(job) is job.config
    view = SimpleNamespace(config={**job.config.to_dict(), "unknown_later_field": 1})
    copy = config_of(view)
    assert isinstance(copy, TrainConfig) and copy == job.config and copy is not job.config


def test_suggested_name():
    config = TrainConfig(dataset="mnist", preset=None)
    assert suggested_name(config, 0.97349) == "mnist-custom-97.3"
    assert suggested_name(TrainConfig(dataset="kmnist", preset="fast"), None) == "kmnist-fast-0.0"


# ------------------------------------------------------------------ core.run_compare

def test_default_choice_is_the_last_runs_else_two_saved_models():
    runs = [f"run:{i}" for i in range(8)]
    assert default_choice(["model:a", *runs]) == runs[-MAX_DEFAULT_RUNS:] == runs[2:]
    assert default_choice(["model:a", "model:b", "model:c"]) == ["model:a", "model:b"]
    assert default_choice([]) == []


def test_compare_row_of_a_run():
    config = TrainConfig(spec=PRESETS["fast"].spec(), preset="fast", dataset="fashion-mnist", lr=3e-5,
                         optimizer="sgd", scheduler="cosine", augment=True, fraction=0.025, seed=7).to_dict()
    row = compare_row(config, {"test_accuracy": 0.91, "train_seconds": 12.5})
    assert row.dataset_title == "Fashion-MNIST" and row.preset == "fast"
    assert row.params == summary(PRESETS["fast"].spec(), num_classes=None).total_params
    assert (row.optimizer, row.lr, row.scheduler, row.augment) == ("sgd", "3e-05", "cosine", True)
    assert (row.batch_size, row.epochs, row.fraction_percent, row.seed) == (128, 1, "2.5", 7)
    assert (row.test_accuracy, row.train_seconds) == (0.91, 12.5)


def test_compare_row_of_an_old_saved_model_says_none_where_it_does_not_know():
    row = compare_row({"optimizer": "lion", "scheduler": 3, "lr": "fast", "spec": [{"type": "nope"}]},
                      {"train_seconds": 0}, dataset="mnist")
    assert row.dataset_title == "MNIST", "the dataset kept next to the config"
    assert (row.preset, row.params, row.optimizer, row.lr, row.scheduler) == (None,) * 5
    assert (row.batch_size, row.epochs, row.seed, row.augment, row.fraction_percent) == (None, None, None, False, "100")
    assert (row.test_accuracy, row.train_seconds) == (None, None)
    assert compare_row({}, {}).dataset_title is None
