"""Model specs: summaries checked against numbers worked out by hand."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import PRESETS, SpecError, build_model, flatten_explanation, summary


def rows(name):
    return {r.name: r for r in summary(PRESETS[name].spec()).layers}


def test_two_conv_32_64():
    s = summary(PRESETS["2-conv 32/64 → FC"].spec())
    r = {x.name: x for x in s.layers}
    # conv1: 32 filters of 1×3×3 plus 32 biases
    assert r["conv1"].params_formula == "32×1×3×3 + 32 = 320"
    assert r["conv1"].output_shape == (32, 28, 28)
    assert r["conv1"].mult_adds == 32 * 28 * 28 * 9
    assert r["conv2"].params == 64 * 32 * 9 + 64 == 18496
    assert r["pool2"].output_shape == (64, 7, 7)
    assert s.flatten_formula == "64 × 7 × 7 = 3136"
    assert r["fc1"].params_formula == "3136×10 + 10 = 31,370"
    assert s.total_params == 320 + 18496 + 31370
    # receptive field: 3, pool → 4 (jump 2), conv → 4 + 2·2 = 8, pool → 10 (jump 4)
    assert [r[n].receptive_field for n in ("conv1", "pool1", "conv2", "pool2")] == [3, 4, 8, 10]
    assert [r[n].jump for n in ("conv1", "pool1", "conv2", "pool2")] == [1, 2, 2, 4]


def test_two_conv_16_32_fc128():
    s = summary(PRESETS["2-conv 16/32 → FC 128"].spec())
    r = {x.name: x for x in s.layers}
    assert r["conv1"].params == 160 and r["conv2"].params == 4640
    assert s.flatten_formula == "32 × 7 × 7 = 1568"
    assert r["fc1"].params == 1568 * 128 + 128 == 200832
    assert r["fc2"].params == 1290
    assert s.total_params == 206922
    assert r["fc1"].mult_adds == 1568 * 128


def test_tutorial_002_four_conv_5x5():
    s = summary(PRESETS["4-conv 5×5 16/32/32/64"].spec())
    r = {x.name: x for x in s.layers}
    assert r["conv1"].params_formula == "16×1×5×5 + 16 = 416"
    assert r["conv2"].params == 32 * 16 * 25 + 32 == 12832
    assert r["conv3"].params == 32 * 32 * 25 + 32 == 25632   # the 32 → 32 convolution of tutorial 002
    assert r["conv4"].params == 64 * 32 * 25 + 64 == 51264
    assert r["conv4"].output_shape == (64, 7, 7)
    assert s.flatten_formula == "64 × 7 × 7 = 3136"
    assert s.total_params == 121514                           # the tutorial's count
    # rf: 5; pool 6 (j2); conv 6+4·2=14; conv 14+4·2=22; pool 24 (j4); conv 24+4·4=40
    assert r["conv4"].receptive_field == 40 and r["conv4"].jump == 4


def test_tutorial_003_recipe_is_sgd_with_momentum():
    preset = PRESETS["2-conv 32/64 → FC 128, SGD"]
    assert preset.recipe == {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "scheduler": "none",
                             "batch_size": 64, "epochs": 5}
    s = summary(preset.spec())
    assert s.flatten_formula == "64 × 7 × 7 = 3136"
    assert s.total_params == (320 + 18496) + (3136 * 128 + 128) + 1290 == 421642


def test_every_tutorial_preset_says_which_tutorial_it_follows():
    tutorials = [p for p in PRESETS.values() if p.description.startswith("Tutorial")]
    assert [p.description[:12] for p in tutorials] == ["Tutorial 000", "Tutorial 001", "Tutorial 002",
                                                       "Tutorial 003"]


def test_fast_preset_drops_the_stem_border_but_still_sees_the_whole_digit_box():
    r = rows("fast")
    # unpadded 5×5, stride 2 on 28×28: (28 − 5) // 2 + 1 = 12 windows per row
    assert r["conv1"].output_shape == (16, 12, 12)
    assert r["pool1"].output_shape == (32, 6, 6) and r["pool2"].output_shape == (64, 3, 3)
    # windows start at 0, 2, …, 22 and so cover rows 0..26, which include MNIST's central
    # 20×20 digit box (rows 4..23)
    covered = {start + k for start in range(0, 2 * 12, 2) for k in range(5)}
    assert set(range(4, 24)) <= covered
    # the point of it: ≈ 0.74× the multiply-adds of the padded stem (12² / 14² = 0.73)
    padded = [dict(layer, padding=2) if i == 0 else layer for i, layer in enumerate(PRESETS["fast"].spec())]
    ratio = summary(PRESETS["fast"].spec()).total_mult_adds / summary(padded).total_mult_adds
    assert 0.70 < ratio < 0.78


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_build_and_match_parameter_count(name):
    spec = PRESETS[name].spec()
    model = build_model(spec)
    assert sum(p.numel() for p in model.parameters()) == summary(spec).total_params
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert PRESETS[name].description


@pytest.mark.parametrize("spec, message", [
    ([], "no layers"),
    ([{"type": "conv", "out": 8, "kernel": 3}] + [{"type": "maxpool", "kernel": 2}] * 5
     + [{"type": "flatten"}, {"type": "linear", "out": 10}], "smaller than the 2×2 window"),
    ([{"type": "conv", "out": 8, "kernel": 31}, {"type": "flatten"}, {"type": "linear", "out": 10}],
     "smaller than the 31×31 kernel"),
    ([{"type": "linear", "out": 10}], "add a flatten layer"),
    ([{"type": "flatten"}, {"type": "conv", "out": 4}], "already flat"),
    ([{"type": "flatten"}, {"type": "linear", "out": 7}], "set the last linear layer's out to 10"),
    ([{"type": "flatten"}, {"type": "dropout", "p": 1.5}, {"type": "linear", "out": 10}], "between 0 and 1"),
    ([{"type": "conv", "out": "x"}], "must be a number"),
    ([{"type": "lstm"}], "unknown type"),
    ([{"type": "conv", "kernel": 3}], "needs a value for 'out'"),
])
def test_invalid_specs_are_explained(spec, message):
    with pytest.raises(SpecError, match=message):
        summary(spec)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 8), st.sampled_from([1, 3, 5]), st.integers(1, 2),
                          st.integers(0, 2), st.booleans()), min_size=1, max_size=3))
def test_summary_shapes_match_pytorch(layers):
    spec = []
    for out, k, s, p, pooled in layers:
        spec.append({"type": "conv", "out": out, "kernel": k, "stride": s, "padding": p})
        spec.append({"type": "relu"})
        if pooled:
            spec.append({"type": "maxpool", "kernel": 2})
    spec += [{"type": "flatten"}, {"type": "linear", "out": 10}]
    try:
        s = summary(spec)
    except SpecError:
        return  # shrank below 1×1: the explanation path is tested above
    model = build_model(spec)
    x = torch.zeros(1, 1, 28, 28)
    for row, module in zip(s.layers, model):
        x = module(x)
        assert tuple(x.shape[1:]) == row.output_shape


@pytest.mark.parametrize("name, source, numbers", [
    ("4-conv 5×5 16/32/32/64", "conv4", 3136),      # tutorial 002: the map comes from the last conv
    ("2-conv 16/32 → FC 128", "pool2", 1568),
    ("fast", "pool2", 576),
])
def test_the_flatten_question_is_answered_in_words_and_numbers(name, source, numbers):
    e = flatten_explanation(summary(PRESETS[name].spec()))
    assert (e.source, e.numbers) == (source, numbers) and e.channels * e.height * e.width == numbers
    assert e.receiver == "fc1"
    assert f"= {numbers:,} numbers" in e.sentence()


def test_the_tutorial_002_sentence():
    e = flatten_explanation(summary(PRESETS["4-conv 5×5 16/32/32/64"].spec()))
    assert e.sentence() == ("conv4 outputs 64 channels of 7×7, so fc1 receives 64 × 7 × 7 = 3,136 "
                            "numbers.")
