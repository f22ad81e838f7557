"""Issue 12, core side: every failure of a hostile visitor's tour reproduced, and now refused.

Numbers in the names follow the issue's "Why" list. The page-side parts (private link, watch link,
error ids, language in the URL) are tested with the pages.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

import core.__main__ as cli
import core.checkpoint as checkpoint_mod
import core.train as train_mod
from core import limits as limits_mod
from core.checkpoint import (DEFAULT_CHECKPOINT, CheckpointError, clean_stale_temp_files, expected_tensors,
                             is_bundled, load_checkpoint, load_checkpoint_bytes, make_metadata,
                             save_checkpoint, to_bytes)
from core.images import ImageError, load_image_bytes
from core.limits import LimitConfigError, LimitError, Limits, check_spec, spec_figures
from core.models import PRESETS, SpecError, build_model
from core.train import ConfigError, TrainConfig, check_config
from core.workspace import (QuotaError, Workspace, WorkspaceError, display_name, is_valid_secret,
                            workspace_id)

ROOT = Path(__file__).resolve().parent.parent
FAST = PRESETS["fast"].spec()


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A checkpoint root like a server's: a copy of the bundled model, nothing else."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(DEFAULT_CHECKPOINT, folder)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(folder))
    for var in limits_mod.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return folder


def small_model(seed=0, spec=None):
    torch.manual_seed(seed)
    return build_model(spec or FAST).eval()


def meta_for(spec=None, name="m"):
    return make_metadata(spec or FAST, "mnist", {"seed": 0}, {"test_accuracy": 0.5}, name=name)


# ----------------------------------------------------------------- 1. bundled and others' models

def test_1_bundled_model_cannot_be_replaced(root):
    bundled = root / DEFAULT_CHECKPOINT.name
    before = bundled.read_bytes()
    assert is_bundled(bundled) and is_bundled(DEFAULT_CHECKPOINT)
    with pytest.raises(CheckpointError, match="ships with CNN Lab"):
        save_checkpoint(bundled, small_model(), meta_for(), overwrite=True)
    with pytest.raises(CheckpointError, match="ships with CNN Lab"):
        save_checkpoint(root / "mnist-default", small_model(), meta_for(), overwrite=True)
    ws = Workspace.create()
    for name in ("mnist-default", "mnist default", " mnist-default. "):
        with pytest.raises(WorkspaceError, match="ships with CNN Lab"):
            ws.save(name, small_model(), meta_for(), overwrite=True)
    with pytest.raises(WorkspaceError):
        ws.delete("bundled:mnist-default")
    assert bundled.read_bytes() == before
    assert {p.name for p in root.iterdir()} <= {DEFAULT_CHECKPOINT.name, "workspaces", ".server-key"}


def test_1_workspaces_are_private(root):
    alice, bob = Workspace.create(), Workspace.create()
    entry = alice.save("digits", small_model(1), meta_for(name="digits"))
    assert [m.ref for m in alice.list_models()] == ["bundled:mnist-default", "own:digits"]
    assert [m.ref for m in bob.list_models()] == ["bundled:mnist-default"], "Bob sees only the bundled model"
    with pytest.raises(WorkspaceError, match="does not exist"):
        bob.load(entry.ref)
    bob.save("digits", small_model(2), meta_for(name="digits"))  # his own, not Alice's
    assert torch.equal(alice.load("own:digits").model[0].weight, small_model(1)[0].weight)
    for ref in ("own:../" + alice.id + "/digits", f"own:{alice.id}/digits", "bundled:../workspaces/x",
                "own:.lock", "file:/etc/passwd", "own:", None, 3):
        with pytest.raises(WorkspaceError):
            bob.load(ref)
    # Reopening with the secret (the private link) gives the same models back; the secret is
    # nowhere on disk or in the repr, the folder is its hash.
    again = Workspace.open(alice.secret)
    assert [m.ref for m in again.own_models()] == ["own:digits"]
    assert alice.secret not in repr(alice) and alice.secret not in str(alice.folder)
    assert alice.folder.name == workspace_id(alice.secret)
    assert not any(alice.secret in str(p) for p in root.rglob("*"))


@pytest.mark.parametrize("secret", ["", "short", "x" * 31, "a/" * 20, "../" * 20, "é" * 40, None, 12])
def test_1_bad_secrets_are_refused(root, secret):
    assert not is_valid_secret(secret)
    with pytest.raises(WorkspaceError, match="private link is not valid"):
        Workspace.open(secret)


def test_1_names_are_safe_to_show(root):
    ws = Workspace.create()
    raw = "a\x00b [click](http://evil.example) <script>`x`_y_ \u202e**z**\n../../etc"
    entry = ws.save(raw, small_model(), meta_for(name=raw))
    for bad in ("\x00", "[", "]", "(", ")", "<", ">", "`", "*", "_", "/", "\n", "\u202e"):
        assert bad not in entry.name and bad not in entry.ref
    assert ws.model_path(entry.ref).parent == ws.folder
    assert display_name("a\x00b") == "a b" and display_name("") == "model"
    # a hostile name inside an uploaded file's metadata is cleaned when listed, too
    other = dict(meta_for(), name="[x](javascript:alert(1))\x07")
    save_checkpoint(ws.folder / "up.safetensors", small_model(), other)
    assert all("[" not in m.name and "\x07" not in m.name for m in ws.list_models())


def test_1_quota_models_and_bytes(root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_MODELS", "2")
    ws = Workspace.create()
    ws.save("one", small_model(), meta_for())
    ws.save("two", small_model(), meta_for())
    ws.save("two", small_model(3), meta_for(), overwrite=True)  # replacing one's own: no new slot
    with pytest.raises(QuotaError, match="at most 2 per workspace") as e:
        ws.save("three", small_model(), meta_for())
    assert e.value.code == "quota_models" and e.value.details == {"value": "3", "limit": "2"}
    ws.delete("own:one")
    ws.save("three", small_model(), meta_for())
    monkeypatch.setenv("CNN_LAB_MAX_MODELS", "20")
    monkeypatch.setenv("CNN_LAB_MAX_WORKSPACE_MB", "0.3")  # ≈ 2 fast models
    ws = Workspace.open(ws.secret)
    with pytest.raises(QuotaError, match="per workspace") as e:
        ws.save("four", small_model(), meta_for())
    assert e.value.code == "quota_bytes"
    assert sorted(m.ref for m in ws.own_models()) == ["own:three", "own:two"]
    assert ws.usage().models == 2 and ws.usage().bytes <= 0.3 * 2**20


# ----------------------------------------------------------------- 2. limits on training

ISSUE_ROW = {"type": "conv", "out": 4096, "kernel": 1, "stride": 1, "padding": 14}


def test_2_the_issues_layer_row_is_refused_before_anything_is_built(monkeypatch):
    spec = [ISSUE_ROW] + FAST[1:]

    def no_model(*a, **k):
        raise AssertionError("a model was built before the limits were checked")

    monkeypatch.setattr(train_mod, "build_model", no_model)
    config = TrainConfig(spec=spec, batch_size=128)
    with pytest.raises(LimitError) as e:
        check_config(config)
    assert e.value.key == "mult_adds"
    figures = {f.key: f for f in spec_figures(spec, batch_size=128)}
    assert not figures["mult_adds"].ok and figures["mult_adds"].limit == 50_000_000
    assert figures["mult_adds"].details["limit"] == "50 M"
    assert not figures["activation_bytes"].ok
    with pytest.raises(LimitError):
        train_mod.TrainingRun(config, data=_NoData())
    # the issue's 870 M figure reads like this in the summary:
    mult_adds = LimitError("mult_adds", 870_000_000, 50_000_000)
    assert str(mult_adds).startswith("870 M multiply-adds per image — this server allows 50 M")


class _NoData:
    class info:
        classes = tuple("0123456789")


@pytest.mark.parametrize("layer, key", [
    ({"type": "conv", "out": 8, "kernel": 1000, "padding": 500}, "kernel"),
    ({"type": "conv", "out": 8, "kernel": 3, "padding": 500}, "padding"),
    ({"type": "conv", "out": 8, "kernel": 3, "stride": 100}, "stride"),
    ({"type": "conv", "out": 4096, "kernel": 3, "padding": 1}, "params"),
])
def test_2_kernel_padding_and_size_limits(layer, key):
    with pytest.raises(LimitError) as e:
        check_spec([layer, {"type": "flatten"}, {"type": "linear", "out": 10}])
    assert e.value.key == key


def test_2_layer_count_is_checked_before_the_layers():
    spec = [{"type": "relu"}] * 10**6 + [{"type": "flatten"}, {"type": "linear", "out": 10}]
    with pytest.raises(LimitError) as e:
        check_spec(spec)
    assert e.value.key == "layers" and "40" in str(e.value)


def test_2_every_preset_fits_the_default_limits():
    for preset in PRESETS.values():
        check_spec(preset.spec(), batch_size=512)


def test_2_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_MULT_ADDS", "1000000")
    with pytest.raises(LimitError, match="1.39 M multiply-adds per image — this server allows 1 M"):
        check_config(TrainConfig(spec=FAST))
    check_config(TrainConfig(spec=FAST), limits=Limits.none())
    monkeypatch.setenv("CNN_LAB_MAX_MULT_ADDS", "lots")
    with pytest.raises(LimitConfigError, match="CNN_LAB_MAX_MULT_ADDS"):
        limits_mod.current()
    assert limits_mod.current({"CNN_LAB_MAX_ACTIVATION_MB": "2"}).max_activation_bytes == 2 * 2**20


@pytest.mark.parametrize("value", [1e400, float("nan"), float("inf"), True, "8", [8], None, 2.5, 10**12])
def test_2_spec_values_must_be_finite_whole_numbers(value):
    spec = [{"type": "conv", "out": value, "kernel": 3}, {"type": "flatten"}, {"type": "linear", "out": 10}]
    with pytest.raises(SpecError) as e:
        check_spec(spec)
    assert "\n" not in str(e.value) and "Layer 1" in str(e.value)


@pytest.mark.parametrize("spec", [{"a": 1}, "conv", 3, None, [1, 2], [[]], [{"type": ["conv"]}], [{}]])
def test_2_specs_that_are_not_lists_of_layers(spec):
    with pytest.raises(SpecError):
        check_spec(spec)


@pytest.mark.parametrize("change, message", [
    ({"weight_decay": -1}, "weight decay"), ({"weight_decay": float("nan")}, "weight decay"),
    ({"label_smoothing": 5}, "Label smoothing"), ({"log_every": 0}, "step events"),
    ({"device": "foo"}, "Unknown device"), ({"batch_size": 10**9}, "batch size"),
    ({"batch_size": True}, "batch size"), ({"seed": -1}, "seed"), ({"momentum": 1.5}, "momentum"),
    ({"epochs": 2.5}, "epochs"), ({"augment": "yes"}, "augment"),
])
def test_2_every_setting_is_checked(change, message):
    with pytest.raises(ConfigError, match=message):
        check_config(TrainConfig(**change))


# ----------------------------------------------------------------- 3. uploads checked before built

@pytest.mark.parametrize("padding", [50, 1000])
def test_3_a_huge_declared_model_is_refused_before_it_is_built(monkeypatch, padding):
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    spec = [dict(ISSUE_ROW, padding=padding)] + ckpt.spec[1:]
    data = st_save({k: v.contiguous() for k, v in ckpt.model.state_dict().items()},
                   metadata={"cnn_lab": json.dumps(dict(ckpt.meta, spec=spec))})
    assert len(data) < 300_000

    def no_model(*a, **k):
        raise AssertionError("built before checked")

    monkeypatch.setattr(checkpoint_mod, "build_model", no_model)
    with pytest.raises(CheckpointError, match="over this server's limits"):
        load_checkpoint_bytes(data)


def test_3_every_tensor_is_checked_against_the_spec(monkeypatch):
    model, meta = small_model(), meta_for()
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    expected = expected_tensors(FAST, 10)
    assert {k: (("I64" if v.dtype == torch.int64 else "F32"), tuple(v.shape)) for k, v in tensors.items()} == expected
    monkeypatch.setattr(checkpoint_mod, "build_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    cases = {
        "missing": {k: v for k, v in tensors.items() if k != "0.bias"},
        "extra": {**tensors, "evil": torch.zeros(10**6)},
        "shape": {**tensors, "0.weight": torch.zeros(16, 1, 5, 4)},
        "dtype": {**tensors, "0.weight": tensors["0.weight"].double()},
        "int": {**tensors, "1.num_batches_tracked": torch.zeros((), dtype=torch.int32)},
    }
    for what, bad in cases.items():
        data = st_save(bad, metadata={"cnn_lab": json.dumps(meta)})
        with pytest.raises(CheckpointError, match="do not match"):
            load_checkpoint_bytes(data)


def test_3_weights_with_nan_are_refused():
    model, meta = small_model(), meta_for()
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    tensors["0.weight"][0, 0, 0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint_bytes(st_save(tensors, metadata={"cnn_lab": json.dumps(meta)}))


def test_3_checkpoint_size_limit(monkeypatch, tmp_path):
    data = to_bytes(small_model(), meta_for())
    monkeypatch.setenv("CNN_LAB_MAX_CHECKPOINT_MB", "0.05")
    with pytest.raises(CheckpointError, match="checkpoints of at most 51.2 KB"):
        load_checkpoint_bytes(data)
    (tmp_path / "m.safetensors").write_bytes(data)
    with pytest.raises(CheckpointError, match="at most"):
        load_checkpoint(tmp_path / "m.safetensors")
    assert load_checkpoint(tmp_path / "m.safetensors", Limits.none()).name == "m"


# ----------------------------------------------------------------- 4. clear errors, no tracebacks

def _meta_bytes(meta) -> bytes:
    return st_save({k: v.contiguous() for k, v in small_model().state_dict().items()},
                   metadata={"cnn_lab": json.dumps(meta)})


@pytest.mark.parametrize("meta", [
    [1, 2], "text", 3, None,
    dict(meta_for(), classes=10), dict(meta_for(), classes=["a"] * 9), dict(meta_for(), classes=list(range(10))),
    dict(meta_for(), input_shape="abc"), dict(meta_for(), input_shape=[3, 32, 32]), dict(meta_for(), input_shape=5),
    dict(meta_for(), spec=[{"type": "conv", "out": 1e400}]), dict(meta_for(), spec={"type": "conv"}),
    dict(meta_for(), normalization={"mean": "x", "std": 0}), dict(meta_for(), normalization=[0, 1]),
    dict(meta_for(), dataset="imagenet"), dict(meta_for(), dataset=["mnist"]), dict(meta_for(), format_version=True),
    dict(meta_for(), format_version="1"), dict(meta_for(), metrics={"test_accuracy": "99%"}),
    dict(meta_for(), metrics=[]), dict(meta_for(), history=[1]), dict(meta_for(), history={"a": 1}),
    dict(meta_for(), name=["x"]), dict(meta_for(), config="x"), dict(meta_for(), seed="x"),
])
def test_4_bad_metadata_is_one_sentence(meta):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_bytes(_meta_bytes(meta))
    message = str(e.value)
    assert "\n" not in message and "Traceback" not in message and str(ROOT) not in message


def test_4_metadata_is_read_with_safetensors_not_by_hand():
    source = Path(checkpoint_mod.__file__).read_text()
    assert "safe_open" in source and "int.from_bytes" not in source
    assert "import pickle" not in source and "torch.load" not in source


def run_cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("argv, message", [
    (["train", "--spec", "{obj}"], "list of layers"),
    (["train", "--spec", "{inf}"], "finite"),
    (["train", "--spec", "{ints}"], "must be an object"),
    (["train", "--spec", "{deep}"], "nested too deeply"),
    (["train", "--spec", "{binary}"], "UTF-8"),
    (["train", "--weight-decay", "-1"], "weight decay"),
    (["train", "--weight-decay", "nan"], "weight decay"),
    (["train", "--label-smoothing", "5"], "Label smoothing"),
    (["train", "--log-every", "0"], "step events"),
    (["train", "--threads", "-1"], "--threads"),
    (["train", "--device", "foo"], "Unknown device"),
    (["train", "--lr", "1e400"], "learning rate"),
    (["train", "--output", "o" * 300], "bytes long"),
    (["train", "--output", "{bundled}"], "ships with CNN Lab"),
    (["train", "--name", "a\x00b"], "--name"),
    (["train", "--batch-size", "8192", "--preset", "2-conv 32/64 → FC"], "activations per training batch"),
    (["evaluate", "--checkpoint", "{obj}"], "not a safetensors"),
    (["predict", "{obj}", "--checkpoint", "{bundled}"], "not a PNG"),
])
def test_4_cli_bad_inputs_are_one_line_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    files = {"obj": ('{"a": 1}', "obj.json"), "inf": ('[{"type": "conv", "out": Infinity}]', "inf.json"),
             "ints": ("[1, 2]", "ints.json"), "deep": ("[" * 100_000 + "]" * 100_000, "deep.json")}
    subs = {"bundled": str(DEFAULT_CHECKPOINT.with_suffix(""))}
    for key, (text, name) in files.items():
        (tmp_path / name).write_text(text)
        subs[key] = str(tmp_path / name)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    subs["binary"] = str(tmp_path / "binary.json")
    subs["bundled"] = str(DEFAULT_CHECKPOINT) if argv[0] != "train" else str(DEFAULT_CHECKPOINT.with_suffix(""))
    monkeypatch.setattr(cli, "load_dataset", lambda *a, **k: pytest.fail("validation must come first"))
    code, err = run_cli([a.format(**subs) if "{" in a else a for a in argv], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_4_no_limits_lifts_the_limits_only_when_asked(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "big.json"
    spec.write_text(json.dumps([ISSUE_ROW, {"type": "flatten"}, {"type": "linear", "out": 10}]))

    class Reached(BaseException):
        pass

    def reached(*a, **k):
        raise Reached

    monkeypatch.setattr(cli, "load_dataset", reached)
    code, err = run_cli(["train", "--spec", spec], capsys)
    assert code == 2 and "this server allows" in err
    with pytest.raises(Reached):
        cli.main(["train", "--spec", str(spec), "--no-limits"])


# ----------------------------------------------------------------- 6. memory from small uploads

def test_6_a_small_16_bit_png_declaring_4096_squared_stays_cheap(tmp_path):
    """The issue's file: ~130 KB, 16-bit RGBA, 4096×4096; it cost ≈ 900 MB. Measured in a fresh
    process (peak resident memory minus the peak before decoding)."""
    script = f"""
import resource, sys
import cv2, numpy as np
img = np.zeros((4096, 4096, 4), np.uint16); img[1000:3000, 1000:3000] = 60000
cv2.imwrite({str(tmp_path / 'big.png')!r}, img)
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    data_size = (tmp_path / "big.png").stat().st_size
    assert data_size < 300_000
    measure = f"""
import resource, sys
sys.path.insert(0, {str(ROOT)!r})
from core.images import load_image_bytes
data = open({str(tmp_path / 'big.png')!r}, 'rb').read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = load_image_bytes(data)
assert out.shape == (4096, 4096, 3), out.shape
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    r = subprocess.run([sys.executable, "-c", measure], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) < 350, f"decoding cost {r.stdout.strip()} MB"


def test_6_pixels_are_checked_from_the_header_before_decoding(monkeypatch):
    from PIL import Image

    _, buf = cv2.imencode(".png", np.zeros((1200, 1000), np.uint8))
    monkeypatch.setenv("CNN_LAB_MAX_IMAGE_PIXELS", "1000000")
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded before the check"))
    with pytest.raises(ImageError) as e:
        load_image_bytes(buf.tobytes())
    assert e.value.code == "too_many_pixels" and e.value.details["max_pixels"] == 1_000_000
    monkeypatch.setenv("CNN_LAB_MAX_IMAGE_MB", "0.001")
    with pytest.raises(ImageError) as e:
        load_image_bytes(buf.tobytes())
    assert e.value.code == "too_many_bytes"


def test_6_image_header_is_read_by_pillow():
    source = Path(load_image_bytes.__code__.co_filename).read_text()
    assert "PngImagePlugin" in source and "_png_size" not in source and "_jpeg_size" not in source


# ----------------------------------------------------------------- 7. --output checked first

def test_7_output_conflict_is_refused_before_training(tmp_path, capsys, monkeypatch):
    (tmp_path / "x1.safetensors").write_bytes(b"my earlier model")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "load_dataset", lambda *a, **k: pytest.fail("trained before the check"))
    code, err = run_cli(["train", "--output", "x1"], capsys)
    assert code == 2 and "x1.safetensors already exists" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "x1.safetensors").read_bytes() == b"my earlier model"


def test_7_cli_process_exit_code(tmp_path):
    (tmp_path / "x1.safetensors").write_bytes(b"x")
    r = subprocess.run([sys.executable, "-m", "core", "train", "--output", str(tmp_path / "x1"),
                        "--data-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


# ----------------------------------------------------------------- 8. crash safety

SAVER = """
import sys, torch
sys.path.insert(0, {root!r})
from core.checkpoint import make_metadata, save_checkpoint
from core.models import build_model
spec = [{{"type": "conv", "out": 64, "kernel": 3, "padding": 1}}, {{"type": "flatten"}},
        {{"type": "linear", "out": 10}}]
model = build_model(spec)
meta = make_metadata(spec, "mnist", name="crash")
i = 0
while True:
    save_checkpoint({folder!r} + f"/m{{i % 3}}.safetensors", model, meta, overwrite=True)
    i += 1
    if i == 3:
        print("ready", flush=True)
"""


def test_8_kill_9_during_saves_leaves_only_complete_checkpoints(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", SAVER.format(root=str(ROOT), folder=str(folder))],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        # Whatever moment the kill lands on, the invariant below must hold; a few dozen saves of a
        # 6.5 MB model pass while we wait for the count of files to change.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(folder.glob("*.tmp")):
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    complete = sorted(folder.glob("*.safetensors"))
    assert complete, "the first saves completed"
    for path in complete:
        assert load_checkpoint(path, Limits.none()).name == "crash"
    leftovers = list(folder.glob("*.tmp"))
    assert all(p.name.startswith(".cnn-lab-save-") for p in leftovers)
    # start-up cleanup: temp files of dead saves go, complete checkpoints stay
    old = time.time() - 3600
    for p in leftovers:
        os.utime(p, (old, old))
    assert clean_stale_temp_files(folder) == len(leftovers)
    assert sorted(folder.iterdir()) == complete


def test_8_workspace_start_up_removes_stale_temp_files_but_not_fresh_ones(root):
    ws_folder = root / "workspaces" / ("a" * 32)
    ws_folder.mkdir(parents=True)
    # stale: its writer is gone (no lock); live: a save in progress holds its lock
    stale = ws_folder / ".cnn-lab-save-abc.tmp"
    legacy, fresh_legacy = root / ".mnist-default.x1y2.tmp", root / ".mnist-default.z3.tmp"
    for p in (stale, legacy, fresh_legacy):
        p.write_bytes(b"partial")
    old = time.time() - 3600
    os.utime(legacy, (old, old))
    import core.workspace as ws_mod
    from core.atomic_files import locked_temp_file

    ws_mod._cleaned_roots.clear()
    with locked_temp_file(ws_folder) as (fd, live):
        os.close(fd)
        Workspace.create()
        assert Path(live).exists()
    assert not stale.exists() and not legacy.exists() and fresh_legacy.exists()
    assert (root / DEFAULT_CHECKPOINT.name).exists()


def test_8_save_is_atomic_and_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    save_checkpoint(tmp_path / "a", small_model(), meta_for())
    assert len(synced) >= 2, "the file and its folder are fsync'd"
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]
