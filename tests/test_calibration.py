"""Temperature scaling, ECE and reliability bins against hand-computed numbers; calibration in training."""
import json
import math
import threading

import numpy as np
import pytest
import torch

from core import calibration as cal
from core.checkpoint import from_model, make_metadata
from core.models import PRESETS
from core.recipe import split_sizes
from core.train import TrainConfig, TrainingRun, holdout_indices
from tests.fakes import toy_dataset

SMALL = PRESETS["fast"].spec()


# ------------------------------------------------------------------ ECE and bins, by hand

def test_ece_by_hand():
    # Four predictions at 95% (three right: accuracy 75%, gap 0.20) and two at 55% (one right:
    # gap 0.05). ECE = 4/6 · 0.20 + 2/6 · 0.05 = 0.15.
    conf = [0.95, 0.95, 0.95, 0.95, 0.55, 0.55]
    correct = [1, 1, 1, 0, 1, 0]
    assert cal.expected_calibration_error(conf, correct) == pytest.approx(0.15)
    bins = cal.reliability_bins(conf, correct)
    assert len(bins.count) == 15 and bins.total == 6
    assert bins.count[14] == 4 and bins.count[8] == 2      # (14/15, 1] and (8/15, 9/15]
    assert bins.accuracy[14] == pytest.approx(0.75) and bins.confidence[14] == pytest.approx(0.95)
    assert bins.accuracy[8] == pytest.approx(0.5) and bins.confidence[8] == pytest.approx(0.55)
    assert np.isnan(bins.accuracy[0]) and bins.count[0] == 0
    assert bins.lower[8] == pytest.approx(8 / 15) and bins.upper[8] == pytest.approx(9 / 15)


def test_bins_are_equal_width_and_upper_inclusive():
    bins = cal.reliability_bins([0.0, 0.05, 0.5, 1.0], [1, 1, 1, 1])
    assert bins.count.tolist() == [2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    # A perfectly calibrated set: 80% confident, right 8 times in 10.
    assert cal.expected_calibration_error([0.8] * 10, [1] * 8 + [0] * 2) == pytest.approx(0.0, abs=1e-12)
    assert cal.expected_calibration_error([], []) == 0.0


def test_bins_round_trip_through_json():
    bins = cal.reliability_bins([0.95, 0.55, 0.3], [1, 0, 1])
    back = cal.ReliabilityBins.from_dict(json.loads(json.dumps(bins.to_dict())))
    assert back.count.tolist() == bins.count.tolist()
    assert back.ece == pytest.approx(bins.ece, abs=1e-5)
    assert np.isnan(back.accuracy[0])


# ------------------------------------------------------------------ temperature

def test_fit_temperature_by_hand():
    # Two classes, every logit pair (2, 0); three labels say class 0, one says class 1. The NLL is
    # lowest where p(class 0) = sigmoid(2 / T) = 3/4, i.e. 2 / T = ln 3: T = 2 / ln 3 ≈ 1.8205.
    logits = torch.tensor([[2.0, 0.0]] * 4)
    labels = torch.tensor([0, 0, 0, 1])
    t = cal.fit_temperature(logits, labels)
    assert t == pytest.approx(2 / math.log(3), rel=1e-5)
    p = cal.calibrated_probabilities(logits, t)
    assert p[0, 0] == pytest.approx(0.75, rel=1e-5)
    assert cal.nll(logits, labels, t) <= cal.nll(logits, labels, 1.0)


def test_fit_temperature_recovers_a_known_scale():
    # Labels drawn from softmax(z) are calibrated for z; the model's logits 3·z need T = 3.
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(20_000, 10, generator=gen, dtype=torch.float64) * 2
    labels = torch.multinomial(z.softmax(1), 1, generator=gen)[:, 0]
    t = cal.fit_temperature(3 * z, labels)
    assert t == pytest.approx(3.0, rel=0.05)
    report = cal.calibration_report(3 * z, labels, t)
    assert report["ece_calibrated"] < 0.02 < report["ece_raw"]
    assert report["nll_calibrated"] < report["nll_raw"]


def test_temperature_keeps_the_prediction_and_clips_degenerate_fits():
    logits = np.array([[3.0, 1.0, -2.0], [0.1, 0.2, 0.0]])
    for t in (0.3, 1.0, 4.0):
        p = cal.calibrated_probabilities(logits, t)
        assert p.argmax(1).tolist() == [0, 1] and np.allclose(p.sum(1), 1)
    assert np.allclose(cal.apply_temperature(logits, 2.0), logits / 2)
    # Everything right with a margin: the NLL keeps falling as T → 0, so the fit only sharpens,
    # until the loss is flat (L-BFGS stops) or the lower bound is reached; it never runs away.
    assert cal.MIN_TEMPERATURE <= cal.fit_temperature([[5.0, 0.0]] * 3, [0, 0, 0]) < 0.5
    with pytest.raises(ValueError):
        cal.fit_temperature(np.zeros((0, 10)), np.zeros(0))


@pytest.mark.parametrize("meta, expected", [
    ({"calibration": {"temperature": 0.7}}, 0.7),
    ({"metrics": {"calibration": {"temperature": 1.3}}}, 1.3),     # saved from the Train page
    ({}, 1.0), (None, 1.0), ({"calibration": "hot"}, 1.0),
    ({"calibration": {"temperature": float("nan")}}, 1.0),
    ({"calibration": {"temperature": -1}}, 1.0), ({"calibration": {"temperature": 1e9}}, 1.0),
    ({"calibration": {"temperature": "0.7"}}, 1.0), ({"calibration": {"temperature": True}}, 1.0),
])
def test_temperature_from_meta_trusts_only_sane_values(meta, expected):
    assert cal.temperature_from_meta(meta) == expected


def test_checkpoint_exposes_its_temperature():
    meta = make_metadata(SMALL, "mnist", calibration={"temperature": 0.8})
    ckpt = from_model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)), meta)
    assert ckpt.temperature == 0.8
    assert cal.calibration_from_meta(meta) == {"temperature": 0.8}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_reliability_figure(lang):
    raw = cal.reliability_bins([0.95, 0.95, 0.55], [1, 0, 1])
    scaled = cal.reliability_bins([0.99, 0.97, 0.7], [1, 0, 1])
    fig = cal.reliability_figure(scaled, raw, lang=lang)
    assert [len(tr.x) for tr in fig.data] == [2, 2, 2]       # diagonal, raw, calibrated
    assert "train.calib" not in fig.layout.title.text       # translated, not a raw key
    assert f"{100 * raw.ece:.2f}" in fig.data[1].name
    assert len(cal.reliability_figure(scaled, lang=lang).data) == 2


# ------------------------------------------------------------------ calibration in training

def test_holdout_is_never_trained_on():
    data = toy_dataset(n_train=500, n_test=100)
    config = TrainConfig(spec=SMALL, epochs=1, batch_size=50, calibration_holdout=5000)
    assert split_sizes(500, config.fraction, config.calibration_holdout) == (450, 50)            # capped at a tenth of the set
    assert split_sizes(60_000, config.fraction, config.calibration_holdout) == (55_000, 5_000)
    # `fraction` is a share of the whole set, out of what the hold-out leaves.
    assert split_sizes(60_000, 0.1, 5000) == (6_000, 5_000)
    assert split_sizes(60_000, 0.95, 5000) == (55_000, 5_000)
    assert split_sizes(60_000, 1.0, 0) == (60_000, 0)
    run = TrainingRun(config, data)
    (x, y), (hx, hy) = run._split()
    assert len(y) == 450 and len(hy) == 50
    held = holdout_indices(500, 50)
    assert torch.equal(hy, data.train_labels[held])
    # Toy images are random noise: no two are equal, so a match would mean a shared image.
    train_rows = {row.numpy().tobytes() for row in x.reshape(len(x), -1)}
    assert not any(row.numpy().tobytes() in train_rows for row in hx.reshape(len(hx), -1))
    assert torch.equal(holdout_indices(500, 50), held), "the same slice whatever the run"


def test_done_event_carries_the_fitted_temperature():
    data = toy_dataset(n_train=600, n_test=200)
    config = TrainConfig(spec=SMALL, epochs=1, batch_size=32, lr=3e-3, optimizer="adam",
                         label_smoothing=0.1, log_every=100)
    run = TrainingRun(config, data)
    events = list(run.events())
    assert events[0]["holdout_size"] == 60 and events[0]["train_size"] == 540
    calib = events[-1]["calibration"]
    json.dumps(calib)
    assert calib["fitted"] and calib["holdout"] == 60 and run.temperature == calib["temperature"]
    assert cal.MIN_TEMPERATURE <= calib["temperature"] <= cal.MAX_TEMPERATURE
    # Reported figures are the ones the bins give for the final test evaluation.
    test = run.last_eval
    assert test.logits.shape == (200, 10) and test.labels.tolist() == data.test_labels.tolist()
    assert calib["test_ece_raw"] == pytest.approx(cal.bins_from_logits(test.logits, test.labels).ece)
    bins = cal.ReliabilityBins.from_dict(calib["test_reliability"]["calibrated"])
    assert bins.total == 200 and bins.ece == pytest.approx(calib["test_ece_calibrated"], abs=1e-4)
    scaled, raw = cal.bins_from_record(json.loads(json.dumps(calib)))
    assert scaled.ece == pytest.approx(calib["test_ece_calibrated"], abs=1e-4)
    assert raw.ece == pytest.approx(calib["test_ece_raw"], abs=1e-4)
    assert np.allclose(test.wrong_confidence_at(1.0), test.wrong_confidence, atol=1e-6)
    scaled_wrong = test.wrong_confidence_at(calib["temperature"])
    assert scaled_wrong.shape == test.wrong_confidence.shape and ((0 < scaled_wrong) & (scaled_wrong <= 1)).all()
    assert cal.bins_from_record({}) is None and cal.bins_from_record({"test_reliability": {"raw": 1}}) is None
    # T minimises the hold-out NLL, starting from T = 1: it can only have gone down there.
    assert calib["holdout_nll_calibrated"] <= calib["holdout_nll_raw"] + 1e-12


def test_no_holdout_means_no_scaling():
    data = toy_dataset(n_train=200, n_test=50)
    run = TrainingRun(TrainConfig(spec=SMALL, epochs=1, batch_size=50, calibration_holdout=0), data)
    calib = list(run.events())[-1]["calibration"]
    assert calib["fitted"] is False and calib["temperature"] == 1.0 and calib["holdout"] == 0
    assert calib["test_ece_raw"] == calib["test_ece_calibrated"]


def test_stopped_run_is_calibrated_too():
    data = toy_dataset(n_train=600, n_test=100)
    stop = threading.Event()
    run = TrainingRun(TrainConfig(spec=SMALL, epochs=20, batch_size=16, log_every=1), data, stop_event=stop)
    events = []
    for e in run.events():
        events.append(e)
        if e["event"] == "step" and e["step"] == 3:
            stop.set()
    assert [e["event"] for e in events[-2:]] == ["stopped", "done"]
    calib = events[-1]["calibration"]
    assert calib["fitted"] and calib["holdout"] == 60 and math.isfinite(calib["test_ece_calibrated"])
