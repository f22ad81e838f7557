"""core.samples (random test images with the model's answers, the images of a confusion cell) and
their figures, against hand-computed numbers, a tiny model and the toy data set."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core import samples as S
from core.figures import samples as fig_samples
from core.figures import training
from core.i18n import translate
from core.models import build_model
from core.preprocess import from_dataset_image
from core.train import evaluate
from tests.fakes import toy_dataset

TOY = toy_dataset(n_train=50, n_test=60)
SPEC = [{"type": "conv", "out": 4, "kernel": 3, "padding": 1}, {"type": "relu"}, {"type": "maxpool", "kernel": 2},
        {"type": "flatten"}, {"type": "linear", "out": 10}]


def t(key, **values):
    return translate("en", key, **values)


def tiny_model():
    torch.manual_seed(0)
    return build_model(SPEC).eval()


# ------------------------------------------------------------------ draws

def test_a_draw_is_distinct_indices_fixed_by_its_seed():
    a = S.draw_indices(100, 12, seed=3)
    assert len(a) == 12 and len(set(a.tolist())) == 12 and a.min() >= 0 and a.max() < 100
    assert np.array_equal(a, S.draw_indices(100, 12, seed=3)), "the same seed, the same images"
    assert np.array_equal(a, np.random.default_rng(3).choice(100, 12, replace=False)), "numpy's Generator"
    assert not np.array_equal(a, S.draw_indices(100, 12, seed=4)), "another press, another draw"
    assert sorted(S.draw_indices(5, 12, seed=0).tolist()) == [0, 1, 2, 3, 4], "all of a small set"


@pytest.mark.parametrize("n, count, seed", [(100, 0, 0), (100, S.MAX_SAMPLES + 1, 0), (100, 12, -1),
                                            (100, 2.5, 0), (-1, 6, 0), (100, True, 0)])
def test_a_draw_outside_the_limits_is_one_sentence(n, count, seed):
    with pytest.raises(S.SampleError, match="must be a whole number"):
        S.draw_indices(n, count, seed)


def test_from_logits_by_hand():
    # three images, two classes; softmax([2, 0]) = e^2 / (e^2 + 1) = 0.8808
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    labels = np.array([0, 0, 1])
    s = S.from_logits(logits, labels, [1, 0])
    assert s.indices.tolist() == [1, 0] and s.true.tolist() == [0, 0] and s.predicted.tolist() == [1, 0]
    assert s.correct.tolist() == [False, True]
    assert s.confidence == pytest.approx([0.880797, 0.880797], abs=1e-6)
    # temperature 2: softmax([1, 0]) = e / (e + 1) = 0.7311
    assert S.from_logits(logits, labels, [0], temperature=2.0).confidence == pytest.approx([0.731059], abs=1e-6)
    # the evaluation's own predictions win over the argmax (a tie here): they are what was counted
    tie = S.from_logits(logits, labels, [2], predicted=np.array([0, 1, 1]))
    assert tie.predicted.tolist() == [1] and tie.correct.tolist() == [True] and tie.confidence == [0.5]
    with pytest.raises(S.SampleError, match="outside the test set"):
        S.from_logits(logits, labels, [3])


def test_predict_runs_the_model_once_like_the_predict_page():
    model = tiny_model()
    idx = S.draw_indices(len(TOY.test_labels), 12, seed=0)
    calls = []
    model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    s = S.predict(model, TOY.test_images, TOY.test_labels, idx, mean=0.1307, std=0.3081)
    assert calls == [12], "one batch for the whole draw"
    assert s.indices.tolist() == idx.tolist() and s.true.tolist() == TOY.test_labels[idx].tolist()
    for k in (0, 5, 11):  # the Predict page's own path for one test image
        pre = from_dataset_image(TOY.test_images[idx[k]].numpy(), 0.1307, 0.3081)
        with torch.no_grad():
            p = model(pre.tensor).softmax(1)[0]
        assert s.predicted[k] == int(p.argmax()) and s.confidence[k] == pytest.approx(float(p.max()), abs=1e-5)
    hot = S.predict(model, TOY.test_images, TOY.test_labels, idx, mean=0.1307, std=0.3081, temperature=0.5)
    assert hot.predicted.tolist() == s.predicted.tolist() and (hot.confidence >= s.confidence - 1e-9).all()
    with pytest.raises(S.SampleError, match="At most"):
        S.predict(model, TOY.test_images, TOY.test_labels, np.arange(S.MAX_SAMPLES + 1), 0.1307, 0.3081)


def test_predict_never_switches_a_model_in_training_mode():
    model = tiny_model().train()
    S.predict(model, TOY.test_images, TOY.test_labels, [0, 1], 0.1307, 0.3081)
    assert model.training


# ------------------------------------------------------------------ confusion cells

def test_pair_indices_by_hand():
    labels = np.array([0, 1, 1, 2, 1, 0])
    predicted = np.array([0, 2, 1, 2, 2, 1])
    assert S.pair_indices(labels, predicted, 1, 2).tolist() == [1, 4]
    assert S.pair_indices(labels, predicted, 0, 0).tolist() == [0]
    assert S.pair_indices(labels, predicted, 2, 0).tolist() == []
    with pytest.raises(S.SampleError):
        S.pair_indices(labels, predicted[:3], 0, 0)


def test_evaluation_predictions_and_pairs_match_the_confusion_matrix():
    x = TOY.normalized(TOY.test_images)
    r = evaluate(tiny_model(), x, TOY.test_labels)
    predicted = S.evaluation_predictions(r.labels, r.wrong_indices, r.wrong_predicted)
    assert np.array_equal(np.flatnonzero(predicted != r.labels), r.wrong_indices)
    for i in range(10):
        for j in range(10):
            assert len(S.pair_indices(r.labels, predicted, i, j)) == r.confusion[i, j]


def test_cell_listing_orders_and_caps():
    labels = np.array([3, 3, 3, 3, 5, 3])
    predicted = np.array([5, 3, 5, 3, 5, 5])
    confidence = np.array([0.6, 0.99, 0.9, 0.7, 0.8, 0.6])
    wrong = S.cell_listing(labels, predicted, confidence, 3, 5)
    assert wrong.total == 3 and not wrong.correct
    assert wrong.indices.tolist() == [2, 0, 5], "surest mistake first, ties in index order"
    assert wrong.confidence.tolist() == [0.9, 0.6, 0.6]
    right = S.cell_listing(labels, predicted, confidence, 3, 3)
    assert right.correct and right.indices.tolist() == [3, 1], "least sure correct answer first"
    capped = S.cell_listing(labels, predicted, confidence, 3, 5, limit=1)
    assert capped.total == 3 and capped.indices.tolist() == [2]
    with pytest.raises(S.SampleError):
        S.cell_listing(labels, predicted, confidence, 3, 5, limit=S.MAX_LISTED + 1)


def test_confidence_of_predictions_by_hand():
    logits = np.array([[2.0, 0.0], [0.0, 0.0]])
    assert S.confidence_of_predictions(logits, [1, 0]).tolist() == pytest.approx([0.119203, 0.5], abs=1e-6)


# ------------------------------------------------------------------ figures

def test_the_sample_grid_marks_mistakes_and_maps_clicks_to_test_indices():
    s = S.Samples(np.array([7, 3, 9]), np.array([1, 2, 3]), np.array([1, 5, 3]), np.array([0.9, 0.55, 0.999]))
    images = TOY.test_images[[7, 3, 9]].numpy()
    fig = fig_samples.samples_figure(images, s, [str(c) for c in range(10)], t, columns=2, width_px=300,
                                     selected=9, clickable=True)
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["1 · 90%", "5 · 55%<br>true 2", "3 · 100%"], "the mistake carries its true label"
    assert [a.font.color for a in fig.layout.annotations] == [fig_samples.RIGHT, fig_samples.WRONG, fig_samples.RIGHT]
    assert fig.layout.width == 300 and fig.layout.clickmode == "event+select"
    assert "#3<br>true 2, predicted 5 (55%)" in fig.data[1].hovertext[1]
    assert len(fig.layout.shapes) == 1, "the current input is outlined"
    # two tiles in the first row, one in the second: the markers sit on their tiles
    assert fig.data[1].y[0] == fig.data[1].y[1] < fig.data[1].y[2] and fig.data[1].x[0] == fig.data[1].x[2]
    event = {"selection": {"points": [{"curve_number": 1, "point_index": 1}], "point_indices": [1]}}
    assert fig_samples.picked_index(event, s) == 3
    assert fig_samples.picked_index({"selection": {"points": [{"curve_number": 0, "point_index": 1}]}}, s) is None
    assert fig_samples.picked_index(None, s) is None and fig_samples.picked_index({"selection": {}}, s) is None
    assert fig_samples.picked_index({"selection": {"points": [{"curve_number": 1, "point_index": 5}]}}, s) is None


def test_the_sample_grid_in_chinese_and_its_limit():
    s = S.Samples(np.array([0]), np.array([1]), np.array([2]), np.array([0.5]))
    fig = fig_samples.samples_figure(TOY.test_images[:1].numpy(), s, list("0123456789"),
                                     lambda k, **v: translate("zh", k, **v))
    assert fig.layout.annotations[0].text == "2 · 50%<br>实为 1"
    many = S.Samples(*(np.zeros(S.MAX_SAMPLES + 1, int),) * 3, np.zeros(S.MAX_SAMPLES + 1))
    with pytest.raises(S.SampleError):
        fig_samples.samples_figure(np.zeros((S.MAX_SAMPLES + 1, 28, 28), np.uint8), many, "0123456789", t)


def test_a_confusion_cell_click_names_its_classes():
    counts = np.arange(9).reshape(3, 3)
    fig = training.confusion_figure(counts, "abc", t, selected=(2, 0))
    markers = fig.data[1]
    # marker k sits on cell (k // 3, k % 3): x is the predicted class, y the true class
    assert list(markers.x) == list("abcabcabc") and list(markers.y) == list("aaabbbccc")
    assert list(markers.text) == [str(k) for k in range(9)] and fig.layout.clickmode == "event+select"
    assert training.confusion_cell(7, 3) == (2, 1)
    assert fig.layout.shapes[0].x0 == -0.5 and fig.layout.shapes[0].y0 == 1.5, "outline on true c, predicted a"
    event = {"selection": {"points": [{"curve_number": 1, "point_index": 5, "x": "c", "y": "b"}]}}
    assert training.confusion_cell(fig_samples.clicked_marker(event), 3) == (1, 2)


def test_per_class_accuracy_axis_ends_at_100_percent():
    fig = training.per_class_figure(np.array([0.9, 1.0, 0.95]), "abc", t)
    assert tuple(fig.layout.yaxis.range) == (pytest.approx(0.8), 1.0)
    assert fig.data[0].cliponaxis is False, "the 100.0% label above a full bar is not cut off"


def test_the_answer_at_this_epoch_is_one_row_per_class():
    probs = np.array([0.01, 0.02, 0.9, 0.07])
    fig = training.probability_figure(probs, range(4), 2, t)
    track, bars = fig.data
    assert bars.orientation == "h" and list(bars.x) == list(probs) and list(bars.y) == ["0", "1", "2", "3"]
    assert list(track.x) == [1.0] * 4, "a track to 100% behind each bar"
    assert tuple(fig.layout.xaxis.range) == (0, 1) and fig.layout.height == 26 + 21 * 4
    assert bars.text[2] == "90%" and bars.marker.color[2] == training.BLUE
