"""core.features: layer outputs, receptive fields (analytic vs gradient), saliency, colour scales."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from core.features import (
    conv_filters, input_gradient, layer_outputs, probabilities, receptive_field, saliency,
    run_inference, scale_maps, source_conv, tile_maps, value_ranges,
)
from core.models import PRESETS, build_model, normalize_layer, summary

PRESET_NAMES = list(PRESETS)


def _model(spec, seed=0):
    torch.manual_seed(seed)
    return build_model(spec).eval()


def _positive_linear_copy(spec):
    """The same geometry with every path positive: max-pooling (which routes the gradient to one
    pixel per window) becomes average pooling, conv weights and biases become positive, so every
    ReLU stays open and no contributions cancel. Then d(output)/d(input) is non-zero exactly on
    the pixels the output depends on."""
    geometry = [dict(normalize_layer(layer, i), type="avgpool") if layer["type"] == "maxpool"
                else layer for i, layer in enumerate(spec)]
    model = _model(geometry)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.uniform_(0.1, 1.0)
                m.bias.uniform_(0.0, 0.1)
    return geometry, model


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_layer_output_has_the_summary_shape(name):
    spec = PRESETS[name].spec()
    outs = layer_outputs(_model(spec), spec, torch.randn(1, 1, 28, 28))
    rows = summary(spec).layers
    assert len(outs) == len(spec) == len(rows)
    for out, row in zip(outs, rows):
        assert tuple(out.output.shape) == row.output_shape, (name, out.name)
        assert out.name == row.name and out.index == row.index
        assert out.spatial == (len(row.output_shape) == 3)
    assert outs[-1].output.shape == (10,)
    p = probabilities(outs)
    assert p.shape == (10,) and abs(p.sum() - 1) < 1e-9


def test_layer_outputs_match_the_forward_pass_and_leave_no_grad():
    spec = PRESETS["2-conv 16/32 → FC 128"].spec()
    model = _model(spec)
    x = torch.randn(1, 1, 28, 28)
    outs = layer_outputs(model, spec, x)
    torch.testing.assert_close(outs[-1].output, model(x)[0].detach())
    assert not any(o.output.requires_grad for o in outs)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_receptive_field_equals_the_nonzero_input_gradient(name):
    spec, model = _positive_linear_copy(PRESETS[name].spec())
    rows = summary(spec).layers
    x = torch.rand(1, 1, 28, 28) + 0.1
    spatial = [r for r in rows if len(r.output_shape) == 3]
    for row in (spatial[-1], spatial[len(spatial) // 2], spatial[0]):
        _, h, w = row.output_shape
        # A corner (clipped by the border and the padding) and an inner position.
        for r, c in ((0, 0), (h // 2, w // 2), (h - 1, w - 1)):
            rf = receptive_field(spec, row.index, r, c)
            grad = input_gradient(model, x, row.index, channel=0, row=r, col=c)
            np.testing.assert_array_equal(grad != 0, rf.mask(), err_msg=f"{name} {row.name} ({r},{c})")
        # Away from the border the region is the full theoretical receptive field of the summary.
        assert rf.full_height == rf.full_width == row.receptive_field
        assert rf.jump == row.jump


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_real_network_gradient_stays_inside_the_receptive_field(name):
    """With random weights, ReLU and max-pooling zero some of the gradient, never add to it."""
    spec = PRESETS[name].spec()
    model = _model(spec, seed=1)
    x = torch.randn(1, 1, 28, 28)
    deepest = [r for r in summary(spec).layers if len(r.output_shape) == 3][-1]
    _, h, w = deepest.output_shape
    for r, c in ((1, 2), (h // 2, w - 1)):
        rf = receptive_field(spec, deepest.index, r, c)
        outside = ~rf.mask()
        for ch in range(4):
            grad = input_gradient(model, x, deepest.index, ch, r, c)
            assert not np.any(grad[outside]), f"{name}: gradient outside the receptive field"


def test_receptive_field_by_hand():
    spec = PRESETS["2-conv 32/64 → FC"].spec()  # conv3 p1, relu, pool2, conv3 p1, relu, pool2
    # pool2 output (7×7) at (3, 3): pool → conv2 rows 6..7 → 5..8 → pool → 10..17 → conv1 9..18.
    rf = receptive_field(spec, 5, 3, 3)
    assert (rf.top, rf.bottom, rf.left, rf.right) == (9, 19, 9, 19)
    assert (rf.height, rf.width, rf.full_height, rf.jump) == (10, 10, 10, 4)
    assert not rf.clipped
    corner = receptive_field(spec, 5, 0, 0)
    assert (corner.top, corner.bottom, corner.height, corner.full_height) == (0, 7, 7, 10)
    assert corner.clipped
    assert receptive_field(spec, 0, 0, 0).height == 2  # 3×3 conv, padding 1, at the corner


def test_rows_a_floor_rounding_pool_never_reads_are_excluded():
    """26×26 → pool → 13×13 → pool → 6×6 drops row 12; a padded conv after it must not claim it."""
    spec = [{"type": "conv", "out": 2, "kernel": 3}, {"type": "relu"}, {"type": "maxpool", "kernel": 2},
            {"type": "maxpool", "kernel": 2}, {"type": "conv", "out": 2, "kernel": 3, "padding": 1},
            {"type": "flatten"}, {"type": "linear", "out": 10}]
    rf = receptive_field(spec, 4, 5, 5)
    # conv2 rows 4..6 → 6 is padding → pools: 4..5 → 8..11 → 16..23 → conv1: 16..25.
    assert (rf.top, rf.bottom, rf.left, rf.right) == (16, 26, 16, 26)
    assert rf.full_height == summary(spec).layers[4].receptive_field == 14  # 3 + 1 + 2 + 2·4
    geometry, model = _positive_linear_copy(spec)
    grad = input_gradient(model, torch.rand(1, 1, 28, 28) + 0.1, 4, 0, 5, 5)
    np.testing.assert_array_equal(grad != 0, rf.mask())


def test_receptive_field_rejects_flat_layers_and_bad_positions():
    spec = PRESETS["fast"].spec()
    flat = next(i for i, layer in enumerate(spec) if layer["type"] == "flatten")
    with pytest.raises(ValueError, match="flat"):
        receptive_field(spec, flat, 0, 0)
    with pytest.raises(ValueError, match="outside"):
        receptive_field(spec, 0, 28, 0)


_window = st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2)).filter(
    lambda ksp: ksp[1] <= ksp[0] and ksp[2] < ksp[0])


@settings(max_examples=25, deadline=None)
@given(layers=st.lists(st.tuples(st.sampled_from(["conv", "maxpool"]), _window), min_size=1, max_size=4),
       data=st.data())
def test_receptive_field_matches_gradient_for_random_architectures(layers, data):
    spec = []
    for kind, (k, s, p) in layers:
        spec += ([{"type": "conv", "out": 2, "kernel": k, "stride": s, "padding": p}, {"type": "relu"}]
                 if kind == "conv" else [{"type": "maxpool", "kernel": k, "stride": s}])
    spec += [{"type": "flatten"}, {"type": "linear", "out": 10}]
    try:
        shapes = [r.output_shape for r in summary(spec).layers]
    except ValueError:  # the map shrank below the kernel: not a buildable model
        return
    spec, model = _positive_linear_copy(spec)
    index = data.draw(st.sampled_from([i for i, s in enumerate(shapes) if len(s) == 3]))
    _, h, w = shapes[index]
    r, c = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    grad = input_gradient(model, torch.rand(1, 1, 28, 28) + 0.1, index, 0, r, c)
    np.testing.assert_array_equal(grad != 0, receptive_field(spec, index, r, c).mask())


def test_saliency_of_a_linear_model_is_its_weight_row():
    spec = [{"type": "flatten"}, {"type": "linear", "out": 10}]
    model = _model(spec)
    x = torch.randn(1, 1, 28, 28)
    s = saliency(model, x)
    assert s.gradient.shape == (28, 28)
    logits = model(x)[0]
    assert s.target == int(logits.argmax())
    np.testing.assert_allclose(s.gradient, model[1].weight[s.target].detach().reshape(28, 28).numpy(),
                               rtol=1e-6)
    other = saliency(model, x, target=(s.target + 1) % 10)
    assert other.target == (s.target + 1) % 10
    assert 0 < other.probability < 1


@pytest.mark.parametrize("name", ["fast", "2-conv 16/32 → FC 128"])
def test_saliency_sign_points_uphill(name):
    """A small step along the gradient raises the class score, against it lowers it."""
    spec = PRESETS[name].spec()
    model = _model(spec, seed=3)
    x = torch.randn(1, 1, 28, 28)
    s = saliency(model, x)
    g = torch.from_numpy(s.gradient)[None, None]
    step = 1e-3 / float(g.abs().max())
    with torch.no_grad():
        up, down = model(x + step * g)[0, s.target], model(x - step * g)[0, s.target]
    assert float(up) > s.score > float(down)
    assert s.magnitude.max() == pytest.approx(1.0) and s.magnitude.min() >= 0
    assert not any(p.grad is not None for p in model.parameters()), "saliency touched .grad"


def test_saliency_rejects_a_class_that_does_not_exist():
    spec = PRESETS["fast"].spec()
    with pytest.raises(ValueError, match="does not exist"):
        saliency(_model(spec), torch.zeros(1, 1, 28, 28), target=10)


def test_value_ranges_per_map_layer_and_global():
    spec = PRESETS["fast"].spec()
    outs = layer_outputs(_model(spec), spec, torch.randn(1, 1, 28, 28))
    conv = outs[0].output
    per_map = value_ranges(outs, 0, "map")
    assert per_map.shape == (conv.shape[0], 2)
    np.testing.assert_allclose(per_map[:, 0], conv.amin((1, 2)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(per_map[:, 1], conv.amax((1, 2)).numpy(), rtol=1e-6)
    per_layer = value_ranges(outs, 0, "layer")
    assert np.allclose(per_layer[:, 0], float(conv.min())) and np.allclose(per_layer[:, 1], float(conv.max()))
    glob = value_ranges(outs, 0, "global")
    assert glob[0, 0] == pytest.approx(min(float(o.output.min()) for o in outs))
    assert glob[0, 1] == pytest.approx(max(float(o.output.max()) for o in outs))
    assert glob[0, 0] <= per_layer[0, 0] and glob[0, 1] >= per_layer[0, 1]
    scaled = scale_maps(conv.numpy(), per_map)
    assert scaled.min() == 0 and scaled.max() == 1
    assert np.allclose(scaled.reshape(len(scaled), -1).max(1), 1)  # every map reaches the top
    flat = value_ranges(outs, len(outs) - 1, "map")
    assert flat.shape == (1, 2)
    with pytest.raises(ValueError):
        value_ranges(outs, 0, "rainbow")


def test_constant_maps_do_not_divide_by_zero():
    spec = PRESETS["fast"].spec()
    outs = layer_outputs(_model(spec), spec, torch.zeros(1, 1, 28, 28))
    relu = next(i for i, o in enumerate(outs) if o.kind == "relu")
    outs[relu].output.zero_()
    r = value_ranges(outs, relu, "map")
    assert np.all(r[:, 1] > r[:, 0])
    assert np.all(np.isfinite(scale_maps(outs[relu].output.numpy(), r)))


def test_tile_maps_places_channels_row_major():
    maps = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    grid = tile_maps(maps, columns=2, gap=1)
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1)
    np.testing.assert_array_equal(grid[0:2, 4:7], maps[1])
    np.testing.assert_array_equal(grid[6:8, 0:3], maps[4])
    assert np.isnan(grid[2]).all() and np.isnan(grid[6:8, 4:7]).all()


def test_filters_and_the_conv_that_made_a_map():
    spec = [{"type": "conv", "out": 16, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "relu"},
            {"type": "maxpool", "kernel": 2}, {"type": "conv", "out": 32, "kernel": 3, "padding": 1},
            {"type": "batchnorm"}, {"type": "relu"}, {"type": "maxpool", "kernel": 2},
            {"type": "flatten"}, {"type": "linear", "out": 10}]
    model = _model(spec)
    assert [source_conv(spec, i) for i in range(len(spec))] == [0, 0, 0, 0, 4, 4, 4, 4, None, None]
    w, b = conv_filters(model, 4)
    assert w.shape == (32, 16, 3, 3) and b.shape == (32,)
    np.testing.assert_array_equal(w, model[4].weight.detach().numpy())
    with pytest.raises(ValueError, match="not a convolution"):
        conv_filters(model, 2)


def test_inference_worker_is_single_threaded_and_leaves_other_threads_alone():
    import threading

    before = torch.get_num_threads()
    assert run_inference(torch.get_num_threads) == 1
    assert torch.get_num_threads() == before
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert seen == [before], "threads started later (training) must keep the normal pool"
    assert run_inference(lambda: run_inference(lambda: 42)) == 42  # nesting runs inline
    spec = PRESETS["2-conv 16/32 → FC 128"].spec()
    model, x = _model(spec), torch.randn(1, 1, 28, 28)
    torch.testing.assert_close(run_inference(layer_outputs, model, spec, x)[-1].output, model(x)[0].detach())
    with pytest.raises(ValueError, match="does not exist"):
        run_inference(saliency, model, x, target=99)


def test_a_model_in_training_mode_is_probed_as_in_eval_but_left_training():
    """A Train-page run may still be training: probing must not switch it to eval mode."""
    spec = PRESETS["accurate"].spec()  # batch norm and dropout: train and eval modes differ
    model = _model(spec)
    x = torch.randn(1, 1, 28, 28)
    expected = model(x)[0].detach()    # eval mode
    model.train()
    outs = layer_outputs(model, spec, x)
    s = saliency(model, x)
    grad = input_gradient(model, x, 0, 0, 3, 3)
    assert model.training and all(m.training for m in model.modules())
    torch.testing.assert_close(outs[-1].output, expected)
    assert s.target == int(expected.argmax()) and grad.shape == (28, 28)
