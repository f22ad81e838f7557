"""Checkpoints: round trip, atomic writes, no silent overwrite, rejection of bad files."""
import json
import os
import threading

import pytest
import torch
from safetensors.torch import save as st_save

from core.checkpoint import (CheckpointError, CheckpointExistsError, list_checkpoints,
                             load_checkpoint, load_checkpoint_bytes, make_metadata,
                             sanitize_name, save_checkpoint, to_bytes)
from core.models import PRESETS, build_model

SPEC = PRESETS["fast"].spec()


def model_and_meta(seed=0, name="m"):
    torch.manual_seed(seed)
    model = build_model(SPEC)
    model.eval()
    meta = make_metadata(SPEC, "mnist", {"seed": seed, "lr": 0.01}, {"test_accuracy": 0.5}, name=name)
    return model, meta


def test_roundtrip(tmp_path):
    model, meta = model_and_meta()
    path = save_checkpoint(tmp_path / "a", model, meta)
    assert path.name == "a.safetensors"
    ckpt = load_checkpoint(path)
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(ckpt.model(x), model(x))
    assert ckpt.meta["config"]["lr"] == 0.01 and ckpt.classes[3] == "3"
    assert ckpt.mean == pytest.approx(0.1307) and ckpt.meta["format_version"] == 1
    assert "created" in ckpt.meta and ckpt.meta["seed"] == 0


def test_refuses_to_overwrite_unless_asked(tmp_path):
    m1, meta1 = model_and_meta(1, "first")
    m2, meta2 = model_and_meta(2, "second")
    path = save_checkpoint(tmp_path / "x.safetensors", m1, meta1)
    before = path.read_bytes()
    with pytest.raises(CheckpointExistsError, match="already exists"):
        save_checkpoint(path, m2, meta2)
    assert path.read_bytes() == before, "the saved file is untouched"
    save_checkpoint(path, m2, meta2, overwrite=True)
    assert load_checkpoint(path).name == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["x.safetensors"], "no temporary files left"


def test_two_savers_racing_for_one_name(tmp_path):
    results = []

    def save(seed):
        m, meta = model_and_meta(seed, f"s{seed}")
        try:
            save_checkpoint(tmp_path / "race.safetensors", m, meta)
            results.append("ok")
        except CheckpointExistsError:
            results.append("exists")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count("ok") == 1 and results.count("exists") == 3
    load_checkpoint(tmp_path / "race.safetensors")


def test_write_is_atomic_when_interrupted(tmp_path, monkeypatch):
    m, meta = model_and_meta()
    path = save_checkpoint(tmp_path / "keep.safetensors", m, meta)
    before = path.read_bytes()

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, m, meta, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_rejects_non_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="not a safetensors"):
        load_checkpoint_bytes(b"hello world, definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="not a safetensors|too short"):
        load_checkpoint_bytes(b"\x01")
    pickle_file = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, pickle_file)
    with pytest.raises(CheckpointError):
        load_checkpoint(pickle_file)
    plain = st_save({"w": torch.zeros(2)})  # valid safetensors, no CNN Lab metadata
    with pytest.raises(CheckpointError, match="no CNN Lab metadata"):
        load_checkpoint_bytes(plain)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_rejects_spec_weight_mismatch():
    model, meta = model_and_meta()
    other = dict(meta, spec=PRESETS["2-conv 32/64 → FC"].spec())
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint_bytes(to_bytes(model, other))
    broken = dict(meta, spec=[{"type": "linear", "out": 10}])
    with pytest.raises(CheckpointError, match="cannot be built"):
        load_checkpoint_bytes(to_bytes(model, broken))


def test_rejects_truncated_file():
    model, meta = model_and_meta()
    data = to_bytes(model, meta)
    with pytest.raises(CheckpointError):
        load_checkpoint_bytes(data[: len(data) - 50])


def test_wrong_format_version():
    model, meta = model_and_meta()
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint_bytes(to_bytes(model, dict(meta, format_version=99)))


def test_list_checkpoints_skips_bad_files(tmp_path):
    m, meta = model_and_meta(name="good")
    save_checkpoint(tmp_path / "good", m, meta)
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    listed = list_checkpoints(tmp_path)
    assert [meta["name"] for _, meta in listed] == ["good"]


@pytest.mark.parametrize("raw, clean", [
    ("My model", "My-model"), ("../../etc/passwd", "etc-passwd"), ("数字 模型", "数字-模型"),
    ("a" * 100, "a" * 64), ("run_1.v2", "run_1.v2"),
])
def test_sanitize_name(raw, clean):
    assert sanitize_name(raw) == clean


def test_sanitize_rejects_empty():
    with pytest.raises(CheckpointError):
        sanitize_name(" /// ")


def test_bundled_default_checkpoint():
    from core.checkpoint import DEFAULT_CHECKPOINT

    assert DEFAULT_CHECKPOINT.exists(), "checkpoints/mnist-default.safetensors ships with the repo"
    assert DEFAULT_CHECKPOINT.stat().st_size < 2 * 1024 * 1024
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    assert ckpt.dataset == "mnist"
    assert ckpt.meta["metrics"]["test_accuracy"] >= 0.993
    assert "python -m core train" in ckpt.meta["recipe"]
    assert ckpt.meta["calibration"]["holdout"] == 5000 and ckpt.temperature == ckpt.meta["calibration"]["temperature"] != 1.0
    json.dumps(ckpt.meta)


def test_file_metadata_is_read_again_when_the_file_changes_and_callers_get_their_own_copy(tmp_path):
    """read_file_metadata keeps what it read per (path, mtime, size): a rewritten file is read
    again, and a caller changing its dict changes nobody else's."""
    from core.checkpoint import read_file_metadata

    m1, meta1 = model_and_meta(1, "first")
    path = save_checkpoint(tmp_path / "x.safetensors", m1, meta1)
    first = read_file_metadata(path)
    assert first["name"] == "first"
    first["name"] = "changed by a caller"
    assert read_file_metadata(path)["name"] == "first"
    m2, meta2 = model_and_meta(2, "second, a longer name")
    save_checkpoint(path, m2, meta2, overwrite=True)
    assert read_file_metadata(path)["name"] == "second, a longer name"
    assert [m["name"] for _, m in list_checkpoints(tmp_path)] == ["second, a longer name"]
