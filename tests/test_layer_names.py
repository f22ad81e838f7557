"""core.layers' names in the UI's language: the English catalog gives exactly the CLI's text,
the Chinese one no English layer words."""
import re

import pytest

from core.layers import LAYER_TYPES, describe, localize_label, type_name
from core.models import PRESETS, describe_layer, layer_label, normalize_layer

# One layer of every type, with parameters that are not the defaults.
SAMPLES = [{"type": "conv", "out": 16, "kernel": 5, "stride": 2, "padding": 0}, {"type": "relu"},
           {"type": "maxpool", "kernel": 2}, {"type": "avgpool", "kernel": 3, "stride": 1},
           {"type": "batchnorm"}, {"type": "dropout", "p": 0.25}, {"type": "flatten"},
           {"type": "linear", "out": 10}]


def test_every_type_has_a_sample():
    assert {s["type"] for s in SAMPLES} == set(LAYER_TYPES)


@pytest.mark.parametrize("layer", SAMPLES, ids=[s["type"] for s in SAMPLES])
def test_english_is_the_cli_text(layer):
    layer = normalize_layer(layer)
    assert describe(layer, "en") == describe_layer(layer)
    assert type_name(layer["type"], "en") == layer["type"]


@pytest.mark.parametrize("layer, text", [
    (SAMPLES[0], "卷积 16，5×5，步幅 2，填充 0"), (SAMPLES[1], "ReLU"), (SAMPLES[2], "最大池化 2×2，步幅 2"),
    (SAMPLES[3], "平均池化 3×3，步幅 1"), (SAMPLES[4], "批归一化"), (SAMPLES[5], "Dropout p=0.25"),
    (SAMPLES[6], "展平"), (SAMPLES[7], "全连接 → 10")], ids=[s["type"] for s in SAMPLES])
def test_chinese_descriptions(layer, text):
    assert describe(normalize_layer(layer), "zh") == text


def test_no_english_layer_words_in_chinese():
    words = re.compile(r"conv|pool|linear|flatten|batchnorm|stride|pad|fc\d")
    for preset in PRESETS.values():
        spec = preset.spec()
        for i, layer in enumerate(spec):
            text = f"{localize_label(layer_label(spec, i), 'zh')} · {describe(normalize_layer(layer, i), 'zh')}"
            assert not words.search(text), text


@pytest.mark.parametrize("label, en, zh", [
    ("conv2", "conv2", "卷积2"), ("fc1", "fc1", "全连接1"), ("pool3", "pool3", "池化3"), ("bn1", "bn1", "批归一化1"),
    ("avgpool1", "avgpool1", "平均池化1"), ("relu12", "relu12", "ReLU12"), ("flatten1", "flatten1", "展平1"),
    ("the input", "the input", "输入"), ("the next layer", "the next layer", "下一层"),
    ("conv", "conv", "conv"), ("mystery3", "mystery3", "mystery3")])
def test_labels_in_both_languages(label, en, zh):
    assert (localize_label(label, "en"), localize_label(label, "zh")) == (en, zh)


def test_unknown_language_falls_back_to_english():
    assert describe(normalize_layer(SAMPLES[0]), "xx") == "conv 16, 5×5, stride 2, pad 0"
    assert describe(normalize_layer(SAMPLES[1]), "xx") == "relu"
