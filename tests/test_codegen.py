"""Code export (core.codegen): the training script, `python -m core code|summary`, the Train page's panel.

The exported script is run for real (a few steps on 1% of MNIST) and checked against
core.models.summary; its model class is compared with core.models.build_model tensor by tensor
(same seed, same initial weights); its first training steps are compared with core.train's.
"""
from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

import core.data
from core.codegen import CONSTRUCTORS, script_file_name, summary_record, training_script
from core.data import DataError, load_dataset
from core.layers import LAYER_TYPES
from core.limits import LimitError
from core.models import PRESETS, SpecError, build_model, summary
from core.train import ConfigError, TrainConfig, TrainingRun, config_from_preset

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL_002 = "4-conv 5×5 16/32/32/64"
TUTORIAL_003 = "2-conv 32/64 → FC 128, SGD"
ALLOWED_IMPORTS = {"argparse", "gzip", "json", "math", "struct", "time", "pathlib", "numpy", "torch",
                   "torch.nn.functional"}
# Every layer type and option a spec can have: batch norm before and after flatten, dropout in both
# places, average pooling with its own stride, strided and padded convolutions.
EVERYTHING = [
    {"type": "conv", "out": 6, "kernel": 5, "stride": 2, "padding": 2}, {"type": "batchnorm"}, {"type": "relu"},
    {"type": "dropout", "p": 0.1}, {"type": "conv", "out": 12, "kernel": 3, "padding": 1},
    {"type": "avgpool", "kernel": 3, "stride": 2}, {"type": "relu"}, {"type": "maxpool", "kernel": 2},
    {"type": "flatten"}, {"type": "linear", "out": 32}, {"type": "batchnorm"}, {"type": "relu"},
    {"type": "dropout", "p": 0.3}, {"type": "linear", "out": 10},
]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def json_lines(text):
    return [json.loads(line) for line in text.strip().splitlines()]


def script_namespace(script: str) -> dict:
    """The script's functions and classes, without running main()."""
    namespace = {"__name__": "exported"}
    exec(compile(script, "exported.py", "exec"), namespace)
    return namespace


def run_script(path: Path, data_dir: Path, *args) -> list[dict]:
    r = subprocess.run([sys.executable, str(path), "--data-dir", str(data_dir), *map(str, args)],
                       cwd=path.parent, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json_lines(r.stdout)


# ------------------------------------------------------------------ the script

def test_every_layer_type_has_code():
    assert set(CONSTRUCTORS) == set(LAYER_TYPES)


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_script_imports_only_torch_numpy_and_the_standard_library(name):
    script = training_script(config_from_preset(name))
    tree = ast.parse(script)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    assert "torchvision.datasets.MNIST" not in script and "datasets.MNIST(data_dir, train=True" in script, \
        "torchvision only in a comment"
    assert f'preset "{name}"' in script and script_file_name(config_from_preset(name)) in script
    assert "# 64×7×7" in training_script(config_from_preset(TUTORIAL_002)), "a shape comment per line"


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_exported_script_runs_and_matches_the_summary(name, data_dir, tmp_path):
    path = tmp_path / script_file_name(config_from_preset(name))
    path.write_text(training_script(config_from_preset(name)), encoding="utf-8")
    events = run_script(path, data_dir, "--max-steps", 3, "--fraction", 0.01, "--epochs", 1,
                        "--test-limit", 500)
    expected = summary(PRESETS[name].spec())
    assert events[0] == {"event": "model", "model": "Net", "parameters": expected.total_params, "output_shape": [1, 10]}
    assert events[1]["event"] == "start" and events[1]["train_size"] == 600
    epoch = next(e for e in events if e["event"] == "epoch")
    assert epoch["step"] == 3 and 0.0 <= epoch["test_accuracy"] <= 1.0 and epoch["test_loss"] > 0
    assert events[1]["test_size"] == 500
    assert events[-1]["event"] == "done" and events[-1]["steps"] == 3


@pytest.mark.parametrize("spec", [EVERYTHING] + [p.spec() for p in PRESETS.values()],
                         ids=["everything"] + list(PRESETS))
def test_the_model_class_is_core_s_model_tensor_for_tensor(spec):
    """Same tensors in the same order, and with the same seed the same initial weights: the
    script's model starts where CNN Lab's does."""
    net = script_namespace(training_script(TrainConfig(spec=spec)))["Net"]
    torch.manual_seed(7)
    ours = net()
    torch.manual_seed(7)
    core_model = build_model(spec)
    mine, theirs = ours.state_dict(), core_model.state_dict()
    assert [tuple(v.shape) for v in mine.values()] == [tuple(v.shape) for v in theirs.values()]
    assert all(torch.equal(a, b) for a, b in zip(mine.values(), theirs.values()))
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), core_model.eval()(x), atol=1e-5)


@pytest.mark.parametrize("overrides", [
    dict(spec=EVERYTHING, optimizer="rmsprop", lr=1e-3, scheduler="cosine", augment=True, label_smoothing=0.1,
         weight_decay=1e-4, momentum=0.5, batch_size=32),
    dict(spec=PRESETS["fast"].spec(), optimizer="adamw", lr=0.03, scheduler="onecycle_linear",
         weight_decay=5e-4, label_smoothing=0.1, batch_size=64),
    dict(spec=PRESETS[TUTORIAL_003].spec(), optimizer="sgd", lr=0.05, scheduler="step", batch_size=50),
], ids=["rmsprop-cosine-augment-dropout", "adamw-onecycle", "sgd-step"])
def test_the_script_takes_the_same_steps_as_core_train(overrides, data_dir, tmp_path):
    """Same seed: the script's first losses are CNN Lab's (calibration hold-out off, as in the
    script), so optimizer, scheduler, label smoothing, augmentation and batches are the same."""
    config = TrainConfig(**overrides, fraction=0.005, epochs=2, seed=3, log_every=1, calibration_holdout=0,
                         device="cpu")
    path = tmp_path / "run.py"
    path.write_text(training_script(config), encoding="utf-8")
    steps = 4
    theirs = []
    for event in TrainingRun(config, load_dataset("mnist", data_dir, progress=False)).events():
        if event["event"] == "step":
            theirs.append((event["loss"], event["lr"]))
            if len(theirs) == steps:
                break
    events = run_script(path, data_dir, "--max-steps", steps, "--log-every", 1, "--test-limit", 100)
    ours = [(e["loss"], e["lr"]) for e in events if e["event"] == "step"]
    assert len(ours) == steps
    for (loss, lr), (core_loss, core_lr) in zip(ours, theirs):
        assert loss == pytest.approx(core_loss, rel=1e-4, abs=1e-5)
        assert lr == pytest.approx(core_lr, rel=1e-9)


@pytest.mark.parametrize("spec, error", [
    ([{"type": "relu\nimport os"}, {"type": "flatten"}, {"type": "linear", "out": 10}], "unknown type"),
    ([{"type": "conv", "out": "8); import os; os.system('echo pwned'); (", "kernel": 3}, {"type": "flatten"},
      {"type": "linear", "out": 10}], "must be a number"),
    ([{"type": "dropout", "p": "__import__('os')"}, {"type": "flatten"}, {"type": "linear", "out": 10}],
     "must be a number"),
    ([{"type": "flatten"}, {"type": "linear", "out": 1e400}], "finite"),
    ("import os", "list of layers"),
])
def test_a_spec_with_code_in_it_is_refused(spec, error):
    with pytest.raises(SpecError, match=error):
        training_script(TrainConfig(spec=spec))


def test_strings_the_spec_carries_never_reach_the_script():
    """Unknown keys are ignored by the spec's validation; they must not appear in the script."""
    payload = "__import__('os').system('echo pwned')"
    spec = [{"type": "conv", "out": 4, "kernel": 3, "name": payload, payload: 1}, {"type": "flatten", "x": payload},
            {"type": "linear", "out": 10, "note": f"\n{payload}\n"}]
    script = training_script(TrainConfig(spec=spec, preset=f"fast\n{payload}"))
    assert "pwned" not in script and "__import__" not in script
    assert script_file_name(TrainConfig(spec=spec, preset="../../etc/passwd")) == "cnn_lab_custom.py"
    ast.parse(script)


@pytest.mark.parametrize("change, error", [
    (dict(optimizer="adam; import os"), ConfigError), (dict(scheduler="x"), ConfigError),
    (dict(lr=float("nan")), ConfigError), (dict(epochs=2.5), ConfigError), (dict(seed=-1), ConfigError),
    (dict(augment="True"), ConfigError), (dict(dataset="mnist\nimport os"), DataError),
    (dict(batch_size=True), ConfigError),
])
def test_a_bad_recipe_is_refused(change, error):
    with pytest.raises(error):
        training_script(replace(config_from_preset("fast"), **change))


def test_the_server_limits_apply_to_the_script():
    wide = [{"type": "conv", "out": 4096, "kernel": 3, "padding": 1}, {"type": "flatten"}, {"type": "linear", "out": 10}]
    with pytest.raises(LimitError):
        training_script(TrainConfig(spec=wide))


def test_an_edited_preset_is_a_custom_model():
    config = config_from_preset("fast")
    config.spec[0]["out"] = 8
    assert script_file_name(config) == "cnn_lab_custom.py"
    script = training_script(config)
    assert 'preset "fast"' not in script and "a custom model of 13 layers" in script


# ------------------------------------------------------------------ command line

def test_cli_code_prints_the_script_with_the_recipe_options():
    r = cli("code", "--preset", "fast")
    assert r.returncode == 0, r.stderr
    assert r.stdout == training_script(config_from_preset("fast"))
    r = cli("code", "--preset", TUTORIAL_003, "--epochs", 3, "--lr", 0.05, "--optimizer", "adamw",
            "--scheduler", "cosine", "--augment", "--label-smoothing", 0.1, "--fraction", 0.5, "--seed", 4)
    assert r.returncode == 0, r.stderr
    for line in ("EPOCHS = 3", "LEARNING_RATE = 0.05", "AUGMENT = True", "LABEL_SMOOTHING = 0.1", "FRACTION = 0.5",
                 "SEED = 4", "torch.optim.AdamW(", "CosineAnnealingLR(", "BATCH_SIZE = 64"):
        assert line in r.stdout, line


def test_cli_code_from_a_spec_file_and_to_an_output_file(tmp_path):
    spec = tmp_path / "model.json"
    spec.write_text(json.dumps(EVERYTHING))
    out = tmp_path / "mine.py"
    r = cli("code", "--spec", spec, "--output", out)
    assert r.returncode == 0, r.stderr
    assert json_lines(r.stdout)[0]["script"] == str(out)
    assert out.read_text(encoding="utf-8") == training_script(replace(config_from_preset("fast"), spec=EVERYTHING,
                                                                      preset=None))
    r = cli("code", "--spec", spec, "--output", out, "--epochs", 2)
    assert r.returncode == 2 and "already exists" in r.stderr and "EPOCHS = 1" in out.read_text()
    assert cli("code", "--spec", spec, "--output", out, "--epochs", 2, "--overwrite").returncode == 0
    assert "EPOCHS = 2" in out.read_text()


@pytest.mark.parametrize("config", [
    config_from_preset("fast", fraction=0.1),
    config_from_preset(TUTORIAL_003, epochs=1),
    TrainConfig(spec=EVERYTHING, dataset="fashion-mnist", epochs=3, batch_size=32, lr=1.5e-4, optimizer="rmsprop",
                scheduler="step", momentum=0.5, weight_decay=1e-5, label_smoothing=0.05, augment=True,
                fraction=0.25, seed=9),
], ids=["page-defaults", "tutorial-003-one-epoch", "custom"])
def test_the_command_in_the_header_writes_the_same_script(config, tmp_path):
    script = training_script(config)
    line = next(x for x in script.splitlines() if x.startswith("#   python -m core code"))
    words = shlex.split(line[len("#   python -m core "):])
    (tmp_path / "my_model.json").write_text(json.dumps(config.spec))
    words = [str(tmp_path / w) if w == "my_model.json" else w for w in words]
    r = cli(*words)
    assert r.returncode == 0, r.stderr
    assert r.stdout == script


def test_cli_summary_of_tutorial_002():
    r = cli("summary", "--preset", TUTORIAL_002)
    assert r.returncode == 0, r.stderr
    (record,) = json_lines(r.stdout)
    assert record["preset"] == TUTORIAL_002 and record["input_shape"] == [1, 28, 28]
    assert record["total_params"] == 121514 and record["output_shape"] == [10]
    assert record["flatten_formula"] == "64 × 7 × 7 = 3136"
    assert record["flatten_explanation"] == ("conv4 outputs 64 channels of 7×7, so fc1 receives "
                                             "64 × 7 × 7 = 3,136 numbers.")
    layers = {row["name"]: row for row in record["layers"]}
    assert layers["conv1"]["params_formula"] == "16×1×5×5 + 16 = 416"
    assert layers["conv3"]["params"] == 25632 and layers["conv4"]["output_shape"] == [64, 7, 7]
    assert layers["conv4"]["receptive_field"] == 40 and layers["conv4"]["jump"] == 4
    assert layers["fc1"]["receptive_field"] is None and layers["fc1"]["mult_adds"] == 31360
    assert sum(row["params"] for row in record["layers"]) == 121514
    assert record["total_mult_adds"] == summary(PRESETS[TUTORIAL_002].spec()).total_mult_adds


def test_cli_summary_of_a_spec_file(tmp_path):
    spec = tmp_path / "model.json"
    spec.write_text(json.dumps(EVERYTHING))
    r = cli("summary", "--spec", spec)
    assert r.returncode == 0, r.stderr
    assert json_lines(r.stdout)[0] == {"preset": None, **summary_record(EVERYTHING)}


@pytest.mark.parametrize("args, message", [
    (["summary"], "one of the arguments --preset --spec is required"),
    (["summary", "--preset", "fast", "--spec", "x.json"], "not allowed with"),
    (["summary", "--preset", "nope"], "Unknown preset"),
    (["summary", "--spec", "missing.json"], "cannot read spec file"),
    (["summary", "--spec", "README.md"], "not valid JSON"),
    (["code", "--preset", "nope"], "Unknown preset"),
    (["code", "--lr", "0"], "learning rate"),
    (["code", "--epochs", "0"], "epochs"),
    (["code", "--optimizer", "bogus"], "invalid choice"),
    (["code", "--output", "core"], "is a folder"),
    (["code", "--spec", "missing.json"], "cannot read spec file"),
])
def test_cli_bad_input_is_one_line_exit_2(args, message):
    r = cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_cli_refuses_a_spec_with_code_in_it(tmp_path):
    spec = tmp_path / "evil.json"
    spec.write_text(json.dumps([{"type": "conv", "out": "4)\nimport os\n(", "kernel": 3}, {"type": "flatten"},
                                {"type": "linear", "out": 10}]))
    for command in ("code", "summary"):
        r = cli(command, "--spec", spec)
        assert r.returncode == 2 and r.stdout == "" and "must be a number" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ the Train page

@pytest.fixture
def toy_page(monkeypatch):
    """The Train page with a toy MNIST (no download, no files)."""
    from app.ui import cached_dataset
    from tests.fakes import toy_dataset

    toy = toy_dataset(n_train=300, n_test=60)
    monkeypatch.setattr(core.data, "is_available", lambda name, data_dir=None: name == "mnist")
    monkeypatch.setattr(core.data, "load_dataset", lambda name="mnist", data_dir=None, progress=True: toy)
    st.cache_resource.clear()
    yield
    cached_dataset.clear()
    st.cache_resource.clear()


OPEN_PANEL = {"train-code": True}   # the lazy panel's state: open (pages/train/export.py)


def open_train_page(lang: str, **state) -> AppTest:
    from tests.helpers import page_app

    at = page_app("pages.train")
    at.session_state["lang"] = lang
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


@pytest.mark.parametrize("lang, title, download", [
    ("en", "⬇ PyTorch code for this run", "Download cnn_lab_fast.py"),
    ("zh", "⬇ 本次训练的 PyTorch 代码", "下载 cnn_lab_fast.py"),
])
def test_the_train_page_shows_the_code_of_the_current_settings(toy_page, lang, title, download):
    at = open_train_page(lang, **OPEN_PANEL)
    assert not at.exception, [e.value for e in at.exception]
    assert title in [e.label for e in at.expander]
    (button,) = at.get("download_button")
    assert button.proto.label == download
    (code,) = at.code
    assert code.language == "python" and "class Net(nn.Module):" in code.value
    assert "FRACTION = 0.1" in code.value, "the form's data fraction (10% on a first visit)"
    # The code follows the form: another preset, another optimizer.
    at.selectbox(key="train.preset").set_value(TUTORIAL_003).run()
    at.selectbox(key="train.optimizer").set_value("adamw").run()
    assert not at.exception
    script = at.code[0].value
    assert "torch.optim.AdamW(" in script and "self.fc2 = nn.Linear(128, 10)" in script
    assert at.get("download_button")[0].proto.label.endswith("cnn_lab_2_conv_32_64_fc_128_sgd.py")


def test_the_code_panel_waits_for_a_trainable_form(toy_page):
    at = open_train_page("en", **OPEN_PANEL)
    at.text_input(key="train.lr").set_value("abc").run()
    assert not at.exception and not at.code and not at.get("download_button")
    assert "The code appears here once" in " ".join(c.value for c in at.caption)
