"""bench/train_bench.py's ablations: each is a valid model that changes only what its name says.

The ablations edit the fast preset's layer list by position, so a change to the preset's layers
must not silently make an ablation measure something else.
"""
import importlib.util
from pathlib import Path

import pytest

from core.models import PRESETS, summary, validate

BENCH = Path(__file__).resolve().parent.parent / "bench" / "train_bench.py"
_spec = importlib.util.spec_from_file_location("train_bench", BENCH)
train_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_bench)


def changed(name):
    """(index, preset layer, ablation layer) for every position where the two differ."""
    preset = validate(PRESETS[train_bench.ABLATIONS[name][0]].spec())
    ablation = validate(train_bench.ablation_spec(name))
    if len(preset) != len(ablation):
        return None
    return [(i, a, b) for i, (a, b) in enumerate(zip(preset, ablation)) if a != b]


@pytest.mark.parametrize("name", list(train_bench.ABLATIONS))
def test_every_ablation_builds_a_valid_model_with_ten_outputs(name):
    s = summary(train_bench.ablation_spec(name))
    assert s.layers[-1].output_shape == (10,)


def test_ablations_do_not_change_the_preset_itself():
    before = PRESETS["fast"].spec()
    for name in train_bench.ABLATIONS:
        train_bench.ablation_spec(name)
    assert PRESETS["fast"].spec() == before


def test_the_padded_stem_ablation_only_pads_the_stem():
    [(i, before, after)] = changed("ablation: fast with a padded stem")
    assert i == 0 and before["type"] == "conv" and (before["padding"], after["padding"]) == (0, 2)
    fast = summary(PRESETS["fast"].spec()).layers[0].output_shape
    padded = summary(train_bench.ablation_spec("ablation: fast with a padded stem")).layers[0].output_shape
    assert (fast[1:], padded[1:]) == ((12, 12), (14, 14))


def test_the_unpadded_conv2_ablation_only_unpads_the_second_convolution():
    [(i, before, after)] = changed("ablation: fast, unpadded conv2")
    assert before["type"] == "conv" and before["out"] == 32
    assert (before["padding"], after["padding"]) == (1, 0)


def test_the_average_pooling_ablation_swaps_both_max_pools():
    diffs = changed("ablation: fast, average pooling")
    assert [(b["type"], a["type"]) for _, b, a in diffs] == [("maxpool", "avgpool")] * 2


def test_the_stride_2_ablation_replaces_conv2s_pool_by_its_stride():
    fast = summary(PRESETS["fast"].spec())
    strided = summary(train_bench.ablation_spec("ablation: fast, conv2 stride 2"))
    assert len(strided.layers) == len(fast.layers) - 1
    assert [layer["type"] for layer in train_bench.ablation_spec("ablation: fast, conv2 stride 2")].count("maxpool") == 1
    # the same map sizes after the block: stride 2 downsamples as the pool did
    assert strided.layers[-1].output_shape == fast.layers[-1].output_shape
    assert strided.flatten_formula == fast.flatten_formula


def test_the_old_accurate_recipe_is_the_padded_7_epoch_batch_256_one():
    [(i, before, after)] = changed("ablation: accurate, old recipe")
    assert i == 0 and (before["padding"], after["padding"]) == (0, 2)
    args = train_bench.ablation_args("ablation: accurate, old recipe")
    assert args[:2] == ["--preset", "accurate"]
    options = dict(zip(args[2::2], args[3::2]))
    assert options == {"--epochs": "7", "--batch-size": "256", "--scheduler": "onecycle"}


@pytest.mark.parametrize("preset", ["fast", "accurate"])
def test_the_no_hold_out_ablations_change_only_the_hold_out(preset):
    name = f"ablation: {preset}, no calibration hold-out"
    assert train_bench.ablation_spec(name) == PRESETS[preset].spec()
    assert train_bench.ablation_args(name) == ["--preset", preset, "--calibration-holdout", "0"]


def test_an_only_that_matches_nothing_is_an_error_not_an_empty_table(capsys):
    with pytest.raises(SystemExit):
        train_bench.main(["--only", "nonsense"])
    assert "matches no recipe" in capsys.readouterr().err
