"""core.figures: the pages' Plotly figures build from core data, in both languages."""
from functools import partial

import numpy as np
import plotly.graph_objects as go
import pytest

from core import conv, metrics
from core.figures import conv as conv_figures
from core.figures import predict as predict_figures
from core.figures import training
from core.i18n import translate

EVENTS = [{"event": "start", "total_steps": 4, "steps_per_epoch": 2, "epochs": 2, "train_size": 20},
          *[{"event": "step", "step": s, "epoch": 1 + (s > 2), "epoch_progress": s / 2, "loss": 2.0 / s,
             "accuracy": 0.2 * s, "lr": 0.01} for s in (1, 2, 3, 4)],
          {"event": "epoch", "epoch": 1, "step": 2, "test_loss": 1.0, "test_accuracy": 0.6},
          {"event": "epoch", "epoch": 2, "step": 4, "test_loss": 0.5, "test_accuracy": 0.8}]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_training_figures(lang):
    t = partial(translate, lang)
    c = metrics.curves(EVENTS)
    loss = training.loss_figure(c, 4, t)
    assert loss.layout.title.text == t("train.chart_loss") and len(loss.data) == 3
    assert len(training.accuracy_figure(c, 4, t).data) == 2
    probs = np.full(10, 0.1)
    assert len(training.probability_figure(probs, range(10), 3, t).data[1].x) == 10
    assert training.confusion_figure(np.eye(3, dtype=int) * 5, "abc", t).data[0].z.shape == (3, 3)
    assert training.per_class_figure(np.array([0.9, 1.0]), "ab", t).layout.height == 460
    cmp = training.compare_figure([("a", EVENTS), ("b", EVENTS)], "test_accuracy", t)
    assert [d.name for d in cmp.data] == ["a", "b"] and list(cmp.data[0].x) == [1, 2]


def test_feature_maps_are_a_sharp_viridis_picture_with_transparent_gaps():
    """maps_image: 5 maps of 2×3 in one row, each scaled to its own min..max, each cell a k×k
    block (k so the row is about width_px wide), the one-cell gaps transparent."""
    import cv2
    maps = np.zeros((5, 2, 3))
    maps[0] = [[0, 1, 2], [3, 4, 6]]        # its own range 0..6
    maps[1] = 7.0                            # constant: drawn as its lowest colour, not NaN
    maps[2] = [[-5, 5, 0], [0, 0, 0]]        # -5..5
    png = training.maps_image(maps, width_px=5 * 4 * 10)   # grid 2 × 19 cells → k = round(200/19) = 11
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    k = 11
    assert img.shape == (2 * k, 19 * k, 4)
    viridis = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, -1), cv2.COLORMAP_VIRIDIS)[0]

    def cell(r, c):   # the BGRA colour of grid cell (r, c), the same over its whole k×k block
        block = img[r * k:(r + 1) * k, c * k:(c + 1) * k]
        assert (block == block[0, 0]).all()
        return block[0, 0]

    assert list(cell(0, 0)) == [*viridis[0], 255] and list(cell(1, 2)) == [*viridis[255], 255]
    assert list(cell(1, 0)) == [*viridis[round(3 / 6 * 255)], 255]
    assert list(cell(0, 4)) == [*viridis[0], 255]                      # map 1, constant
    assert list(cell(0, 9)) == [*viridis[255], 255] and list(cell(0, 8)) == [*viridis[0], 255]  # map 2
    for gap in (3, 7, 11, 15):
        assert (img[:, gap * k:(gap + 1) * k, 3] == 0).all()         # transparent between maps
    many = cv2.imdecode(np.frombuffer(training.maps_image(np.ones((20, 4, 4))), np.uint8),
                        cv2.IMREAD_UNCHANGED)
    cells_wide, cells_high = 8 * 5 - 1, 3 * 5 - 1                      # 8 to a row: 3 rows
    k = round(training.MAPS_IMAGE_WIDTH_PX / cells_wide)
    assert many.shape[:2] == (cells_high * k, cells_wide * k)


def _loss_events(losses, test_losses=()):
    events = [{"event": "start", "total_steps": 500, "steps_per_epoch": 500, "epochs": 1}]
    events += [{"event": "step", "step": s, "epoch": 1, "epoch_progress": s / 500, "loss": v,
                "accuracy": 0.5, "lr": 0.01} for s, v in enumerate(losses, start=1)]
    events += [{"event": "epoch", "epoch": 1, "step": len(losses), "test_loss": v, "test_accuracy": 0.9}
               for v in test_losses]
    return events


def _y_range(losses, test_losses=()):
    c = metrics.curves(_loss_events(losses, test_losses))
    fig = training.loss_figure(c, 500, partial(translate, "en"))
    low, high = fig.layout.yaxis.range
    points = [v for d in fig.data for v in d.y]
    assert all(low <= v <= high for v in points), "every point of every curve in view"
    return low, high, c


@pytest.mark.parametrize("n", [1, 2, 5, 20])
def test_the_loss_axis_shows_every_point_from_the_first_ones(n):
    # the first steps of a run: loss falls from 2.3 fast, the raw line below the smoothed one
    rng = np.random.default_rng(n)
    losses = list(2.3 * np.exp(-0.3 * np.arange(n)) + 0.05 * rng.random(n))
    low, high, c = _y_range(losses)
    top = max(max(losses), max(c.smoothed_loss()))
    assert high > low and high < top * 1.1 + 0.01, "a margin, not an empty band above the curves"


def test_the_loss_axis_starts_at_zero_once_the_loss_has_fallen():
    low, high, _ = _y_range([2.3, 1.2, 0.4, 0.08, 0.03, 0.3], test_losses=[0.05])
    assert low == 0.0 and 2.3 < high < 2.6


def test_a_flat_start_still_gets_a_readable_span():
    low, high, _ = _y_range([2.302, 2.303])  # two points 0.001 apart
    assert 2.0 < low < 2.302 and 2.303 < high < 2.6, "not a 0–2.3 axis with the points on its top edge"


def test_an_empty_run_leaves_the_loss_axis_to_plotly():
    c = metrics.curves(_loss_events([]))
    assert training.loss_figure(c, 500, partial(translate, "en")).layout.yaxis.range is None
    assert training.loss_range([float("nan")], []) is None


def test_default_compare_metric():
    assert training.default_compare_metric([EVENTS]) == "test_accuracy"
    assert training.default_compare_metric([EVENTS[:-1]]) == "loss"


def test_predict_figures():
    t = partial(translate, "en")
    maps = np.random.default_rng(0).random((4, 5, 5))
    ranges = np.stack([maps.min((1, 2)), maps.max((1, 2))], 1)
    grid = predict_figures.channel_grid_figure(maps, ranges, "map", 2, t)
    assert len(grid.data[1].x) == 4 and len(grid.layout.shapes) == 1
    single = predict_figures.map_figure(maps[0], 0, 1, marker=(1, 2), clickable=True, t=t)
    assert isinstance(single, go.Figure) and len(single.data) == 2
    tile = predict_figures.pixel_tile(np.zeros((28, 20)), 140)
    assert tile.shape == (140, 140, 3) and tile.dtype == np.uint8
    probs = np.array([0.1, 0.7, 0.2])
    bars = predict_figures.probability_figure(probs, ["0", "1", "2"], 1, 2, t)
    assert list(bars.data[0].marker.color) == ["#9aa5b1", "#e8590c", "#2e9d5b"]
    assert predict_figures.fmt(0.000123456) == "0.000123"


def test_conv_figures():
    t = partial(translate, "zh")
    res = conv.conv_steps([conv.EXAMPLE_INPUT], [[conv.EXAMPLE_KERNEL]])
    board = conv_figures.conv_step_figure(res, res.steps[4], t)
    assert board.layout.width > 0 and any("Σ" in a.text for a in board.layout.annotations)
    out = conv_figures.output_figure(res.output[0], 4, (1, 1), signed=False, title="out", t=t)
    assert out.layout.clickmode == "event+select"
    pool = conv.pool_steps([conv.EXAMPLE_POOL_INPUT], 2)
    assert conv_figures.pool_figure(pool, pool.steps[0], t).layout.height > 0
    assert conv_figures.kernel_figure(np.eye(3), "k").layout.width >= 170


def test_predict_explorer_colour_bars_only_where_nothing_else_states_the_scale():
    """The channel grid's caption states its range and the filter cells carry their values, so
    they draw no colour bar (each one is a small axis the browser lays out on every drawing);
    the enlarged map keeps its bar."""
    t = partial(translate, "en")
    maps = np.random.default_rng(0).random((4, 5, 5))
    ranges = np.stack([maps.min((1, 2)), maps.max((1, 2))], 1)
    assert predict_figures.channel_grid_figure(maps, ranges, "layer", 0, t).data[0].showscale is False
    assert predict_figures.map_figure(maps[0], 0, 1, t=t).data[0].showscale is True
    assert predict_figures.map_figure(maps[0], -1, 1, "RdBu_r", text=True, t=t).data[0].showscale is False
    assert predict_figures.kernel_grid_figure(maps, 1.0, 60).data[0].showscale is True
    assert predict_figures.kernel_grid_figure(maps, 1.0, 60, colorbar=False).data[0].showscale is False
