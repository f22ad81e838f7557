"""core.recipe and core.durations: the Train form's formulas, without a browser."""
import pytest

from core.durations import duration_parts
from core.models import PRESETS
from core.recipe import (BATCH_SIZES, TUTORIAL_OF, LearningRateError, epochs_cut, form_values, learning_rate_ok,
                         parse_learning_rate, run_size, train_images)
from core.train import ConfigError, TrainConfig, check_config, config_from_preset


@pytest.mark.parametrize("text, lr", [("0.001", 0.001), ("1e-3", 0.001), (" 0,01 ", 0.01), ("10", 10.0)])
def test_typed_learning_rates(text, lr):
    assert parse_learning_rate(text) == pytest.approx(lr)


@pytest.mark.parametrize("text, code", [("abc", "not_number"), ("", "not_number"), ("0", "range"),
                                        ("-1", "range"), ("11", "range"), ("nan", "range"), ("inf", "range")])
def test_unusable_learning_rates_say_why(text, code):
    with pytest.raises(LearningRateError) as e:
        parse_learning_rate(text)
    assert e.value.code == code and e.value.text == text


def test_core_train_checks_the_same_range():
    assert learning_rate_ok(10) and not learning_rate_ok(10.5) and not learning_rate_ok(0)
    with pytest.raises(ConfigError):
        check_config(TrainConfig(lr=10.5))


def test_run_size():
    assert train_images(60_000, 0.1) == 6_000 and train_images(10, 0.01) == 1
    size = run_size(60_000, 0.1, 128, 3)
    assert (size.images, size.steps_per_epoch, size.total_steps) == (6_000, 47, 141)


def test_form_values_come_from_the_preset_config():
    config = config_from_preset("accurate")
    values = form_values(config, max_epochs=5)
    assert values["lr"] == f"{config.lr:g}" and values["optimizer"] == config.optimizer
    assert values["epochs"] == 5, "capped at the server's limit"
    assert values["batch_size"] in BATCH_SIZES
    assert form_values(TrainConfig(batch_size=120), 20)["batch_size"] == 128, "snapped to a choice"


# The tutorials' own settings (their code): optimizer, lr, momentum, batch size, epochs.
TUTORIAL_RECIPES = {
    "000": ("adam", "0.001", 0.0, 64, 5),
    "001": ("adam", "0.001", 0.0, 100, 2),
    "002": ("adam", "0.001", 0.0, 100, 2),
    "003": ("sgd", "0.01", 0.9, 64, 5),
}


@pytest.mark.parametrize("name, number", TUTORIAL_OF.items())
def test_a_tutorial_preset_fills_the_form_with_the_tutorials_settings(name, number):
    assert PRESETS[name].description.startswith(f"Tutorial {number}")
    values = form_values(config_from_preset(name), max_epochs=20)
    optimizer, lr, momentum, batch, epochs = TUTORIAL_RECIPES[number]
    assert (values["optimizer"], values["lr"], values["batch_size"], values["epochs"]) == (optimizer, lr, batch, epochs)
    assert batch in BATCH_SIZES, "the tutorial's batch size is one of the form's choices, not snapped"
    if optimizer == "sgd":
        assert values["momentum"] == momentum
    assert values["scheduler"] == "none" and not values["augment"]


def test_every_tutorial_has_its_preset():
    assert sorted(TUTORIAL_OF.values()) == ["000", "001", "002", "003"]
    assert set(TUTORIAL_OF) <= set(PRESETS)


def test_epochs_cut_by_the_server_are_said():
    config = config_from_preset("2-conv 16/32 → FC 128")  # 5 epochs
    assert epochs_cut(config, 3) == 5 and form_values(config, 3)["epochs"] == 3
    assert epochs_cut(config, 5) is None and epochs_cut(config, 20) is None


@pytest.mark.parametrize("seconds, parts", [(0.4, ("s", {"s": 0})), (59.6, ("m", {"m": 1, "s": 0})),
                                            (125, ("m", {"m": 2, "s": 5})), (4000, ("h", {"h": 1, "m": 6})),
                                            (-3, ("s", {"s": 0}))])
def test_duration_parts(seconds, parts):
    assert duration_parts(seconds) == parts
