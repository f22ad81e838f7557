"""Fuzz suite (issue 12): generated hostile inputs thrown at every core entry point.

Hypothesis generates batches of specs (+ training settings), checkpoint files (metadata,
headers, tensors), image files (sizes, bit depths, declared sizes, truncation) and command
lines; each batch runs in a fresh process (tests/fuzz_worker.py) under RLIMIT_AS = 2 GB and a CPU
time limit, in a temporary working folder. It passes when every input gets a clear error (the
project's own error type, one sentence; exit 2 and one stderr line for the CLI) or a correct
result checked by the worker, no worker exceeds its limits, and nothing is written outside the
temporary folder. Figures (inputs per entry point, failures, peak memory) are printed at the end
and written to test-artifacts/fuzz-report.json.

Deterministic (derandomize=True): the same inputs every run, so it never flakes.
"""
from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as st_save

from core.checkpoint import DEFAULT_CHECKPOINT, make_metadata
from core.limits import LimitError, check_spec
from core.models import LAYER_PARAMS, PRESETS, SpecError, build_model

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "fuzz_worker.py"
REPORT = ROOT / "test-artifacts" / "fuzz-report.json"
MEMORY_LIMIT = 2 << 30
BATCHES = 6          # hypothesis examples per entry point; each is one worker process
STATS: dict[str, dict] = {}

# Generation only: a failing batch is reported as it is (with its inputs), not shrunk for minutes.
FUZZ = settings(max_examples=BATCHES, deadline=None, derandomize=True, database=None,
                phases=[Phase.generate], verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))


# ============================================================================ running a batch

def run_batch(entry: str, batch: list, tmp_path: Path, timeout: float = 240) -> None:
    work = tmp_path / f"work-{entry}-{len(STATS.get(entry, {}).get('peaks', []))}"
    work.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work),
           "XDG_CACHE_HOME": str(work / "cache"), "CNN_LAB_CHECKPOINT_DIR": str(work / "checkpoints"),
           "CNN_LAB_DATA_DIR": str(work / "no-data"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "FUZZ_MEMORY_LIMIT": str(MEMORY_LIMIT), "PYTHONDONTWRITEBYTECODE": "1"}
    before = snapshot()
    r = subprocess.run([sys.executable, str(WORKER), entry], input=json.dumps(batch), cwd=work, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{entry} worker died (exit {r.returncode}): {r.stderr[-2000:]}"
    out = json.loads(r.stdout)
    stats = STATS.setdefault(entry, {"inputs": 0, "ok": 0, "error": 0, "failures": 0, "peaks": []})
    stats["inputs"] += len(batch)
    stats["peaks"].append(out["peak_mb"])
    bad = []
    for item, result in zip(batch, out["results"]):
        if result in ("ok", "error"):
            stats[result] += 1
        else:
            stats["failures"] += 1
            bad.append((result, json.dumps(item)[:300]))
    assert snapshot() == before, "something was written outside the worker's temporary folder"
    assert out["peak_mb"] * 2**20 < MEMORY_LIMIT
    assert not bad, f"{len(bad)} of {len(batch)} {entry} inputs failed, e.g. {bad[:3]}"


def snapshot() -> dict:
    """Names, sizes and times of the project's files a worker could be tempted to write to."""
    seen = {}
    for folder in (ROOT, ROOT / "checkpoints", ROOT / "core", ROOT / "assets"):
        for p in folder.iterdir():
            if p.name in (".git", ".hypothesis", ".pytest_cache", "test-artifacts", "__pycache__"):
                continue
            st_ = p.stat()
            seen[str(p)] = (st_.st_size, st_.st_mtime_ns) if p.is_file() else "dir"
    return seen


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if not STATS:
        return
    figures = {entry: {"inputs": s["inputs"], "ok": s["ok"], "clear_errors": s["error"],
                       "failures": s["failures"], "workers": len(s["peaks"]),
                       "peak_memory_mb": round(max(s["peaks"]), 1) if s["peaks"] else None}
               for entry, s in STATS.items()}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"memory_limit_mb": MEMORY_LIMIT >> 20, "entries": figures}, indent=2))
    print("\nfuzz figures (RLIMIT_AS 2 GB per worker):")
    for entry, f in figures.items():
        print(f"  {entry:<10} inputs {f['inputs']:>4}  ok {f['ok']:>4}  clear errors {f['clear_errors']:>4}  "
              f"failures {f['failures']}  peak {f['peak_memory_mb']} MB")
    print(f"  written to {REPORT}")


# ============================================================================ strategies

NUMBER_TEXT = st.one_of(
    st.integers(-3, 300).map(str), st.integers(-2**80, 2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-1", "0", "", "abc", "0x10", "1_000", " 3", "1e-400"]))

WEIRD = st.one_of(
    st.integers(-3, 40), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("inf"), -0.0, 2.5, 1e308, 10**9, 10**9 + 1]), st.booleans(),
    st.text(max_size=6), st.none(), st.lists(st.integers(0, 9), max_size=2), st.just({}))

KINDS = list(LAYER_PARAMS)
ANY_LAYER = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(KINDS), st.sampled_from(["bogus", "", "Conv"]), WEIRD)},
    optional={name: WEIRD for name in ("out", "kernel", "stride", "padding", "p")})

# Mostly sensible layers, so that some specs are accepted and their result can be checked.
SANE_LAYER = st.one_of(
    st.builds(lambda o, k, s, p: {"type": "conv", "out": o, "kernel": k, "stride": s, "padding": p},
              st.integers(1, 600), st.integers(1, 30), st.integers(1, 4), st.integers(0, 16)),
    st.builds(lambda k, kind: {"type": kind, "kernel": k}, st.integers(1, 4), st.sampled_from(["maxpool", "avgpool"])),
    st.sampled_from([{"type": "relu"}, {"type": "batchnorm"}, {"type": "dropout", "p": 0.25}]))
TAIL = [{"type": "flatten"}, {"type": "linear", "out": 10}]

SPECS = st.one_of(
    st.lists(SANE_LAYER, max_size=5).map(lambda ls: ls + TAIL),
    st.lists(st.one_of(SANE_LAYER, ANY_LAYER), max_size=6).map(lambda ls: ls + TAIL),
    st.lists(ANY_LAYER, max_size=8),
    st.builds(lambda n: [{"type": "relu"}] * n + TAIL, st.sampled_from([38, 39, 40, 41, 5000])),
    st.sampled_from([p.spec() for p in PRESETS.values()]),
    st.one_of(st.dictionaries(st.text(max_size=3), WEIRD, max_size=2), WEIRD,
              st.lists(WEIRD, max_size=3)),
)

CONFIGS = st.fixed_dictionaries({}, optional={
    "batch_size": st.one_of(st.integers(1, 1024), WEIRD), "lr": st.one_of(st.floats(1e-4, 1), WEIRD),
    "epochs": st.one_of(st.integers(1, 3), WEIRD), "weight_decay": WEIRD, "label_smoothing": WEIRD,
    "log_every": WEIRD, "seed": WEIRD, "momentum": WEIRD, "fraction": WEIRD, "augment": WEIRD,
    "device": st.sampled_from(["auto", "cpu", "cuda", "cuda:0", "cuda:x", "mps", "foo", "", "cpu:0"]),
    "optimizer": st.one_of(st.sampled_from(["adam", "sgd", "nope"]), WEIRD),
    "scheduler": st.one_of(st.sampled_from(["none", "cosine", "nope"]), WEIRD),
})

SPEC_INPUTS = st.fixed_dictionaries({"spec": SPECS, "config": CONFIGS})


# ---------------------------------------------------------------- checkpoints

TINY = [{"type": "conv", "out": 4, "kernel": 3, "stride": 2}, {"type": "batchnorm"}, {"type": "relu"}] + TAIL


def _checkpoint(spec, meta_changes=None, seed=0) -> bytes:
    torch.manual_seed(seed)
    model = build_model(spec)
    meta = make_metadata(spec, "mnist", {"seed": seed}, {"test_accuracy": 0.5}, name="fuzz")
    meta.update(meta_changes or {})
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    return st_save(tensors, metadata={"cnn_lab": json.dumps(meta)})


BASE_CKPT = _checkpoint(TINY)
HEADER_LEN = int.from_bytes(BASE_CKPT[:8], "little")
BASE_HEADER = json.loads(BASE_CKPT[8:8 + HEADER_LEN])
BASE_META = json.loads(BASE_HEADER["__metadata__"]["cnn_lab"])

JSON_VALUE = st.recursive(st.one_of(WEIRD, st.text(max_size=8)),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                          max_leaves=6)
META_KEYS = list(BASE_META) + ["extra", ""]


def _with_spec(spec) -> bytes:
    """A checkpoint for `spec`: real tensors when it is a spec the limits allow, else the tiny
    model's tensors under the foreign spec (a mismatch the loader must catch)."""
    try:
        check_spec(spec)
    except (SpecError, LimitError, TypeError):
        return _raw(BASE_HEADER | {"__metadata__": {"cnn_lab": json.dumps(BASE_META | {"spec": spec})}})
    return _checkpoint(spec)


def _raw(header: dict, body: bytes | None = None) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + (BASE_CKPT[8 + HEADER_LEN:] if body is None else body)


def _mutate_tensor_entry(name, field, value) -> bytes:
    header = json.loads(json.dumps(BASE_HEADER))
    header[name][field] = value
    return _raw(header)


TENSOR_NAMES = [k for k in BASE_HEADER if k != "__metadata__"]
CHECKPOINTS = st.one_of(
    st.builds(lambda k, v: _raw(BASE_HEADER | {"__metadata__": {"cnn_lab": json.dumps(BASE_META | {k: v})}}),
              st.sampled_from(META_KEYS), JSON_VALUE),
    st.builds(lambda v: _raw(BASE_HEADER | {"__metadata__": {"cnn_lab": json.dumps(v)}}), JSON_VALUE),
    st.builds(lambda v: _raw(BASE_HEADER | {"__metadata__": v}), JSON_VALUE),
    SPECS.map(_with_spec),
    st.builds(_mutate_tensor_entry, st.sampled_from(TENSOR_NAMES), st.just("dtype"),
              st.sampled_from(["F16", "F64", "I64", "BOOL", "U8", "X", 3])),
    st.builds(_mutate_tensor_entry, st.sampled_from(TENSOR_NAMES), st.just("shape"),
              st.lists(st.integers(-2, 2**40), max_size=5)),
    st.builds(_mutate_tensor_entry, st.sampled_from(TENSOR_NAMES), st.just("data_offsets"),
              st.lists(st.integers(-2, 2**62), max_size=3)),
    st.builds(lambda n: n.to_bytes(8, "little") + BASE_CKPT[8:], st.integers(0, 2**64 - 1)),
    st.builds(lambda cut: BASE_CKPT[:cut], st.integers(0, len(BASE_CKPT) - 1)),
    st.builds(lambda i, b: BASE_CKPT[:i] + bytes([b]) + BASE_CKPT[i + 1:],
              st.integers(0, len(BASE_CKPT) - 1), st.integers(0, 255)),
    st.binary(max_size=64),
    st.sampled_from([BASE_CKPT, DEFAULT_CHECKPOINT.read_bytes(), BASE_CKPT + b"\x00" * 100]),
)


# ---------------------------------------------------------------- images

def _encode(h, w, channels, depth, fmt, seed) -> bytes:
    rng = np.random.default_rng(seed)
    if fmt in (".jpg", ".webp", ".bmp"):
        depth, channels = 8, (3 if channels == 4 and fmt != ".webp" else channels)
    dtype = np.uint16 if depth == 16 else np.uint8
    img = rng.integers(0, np.iinfo(dtype).max, size=(h, w, channels) if channels > 1 else (h, w), dtype=dtype)
    ok, buf = cv2.imencode(fmt, img)
    assert ok
    return buf.tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _declare_size(data: bytes, w: int, h: int, fix_crc: bool) -> bytes:
    """The file with a different width/height written into its header (IDAT etc. unchanged)."""
    if data.startswith(b"\x89PNG"):
        ihdr = bytearray(data[16:29])
        ihdr[0:8] = struct.pack(">II", w % 2**32, h % 2**32)
        chunk = _png_chunk(b"IHDR", bytes(ihdr)) if fix_crc else data[8:16] + bytes(ihdr) + data[29:33]
        return data[:8] + chunk + data[33:]
    if data.startswith(b"BM"):
        return data[:18] + struct.pack("<ii", w % 2**31, h % 2**31) + data[26:]
    if data.startswith(b"\xff\xd8"):
        i = data.find(b"\xff\xc0")
        if i > 0:
            return data[:i + 5] + struct.pack(">HH", h % 2**16, w % 2**16) + data[i + 9:]
    return data


IMAGE_BASE = st.builds(_encode, st.integers(1, 48), st.integers(1, 48), st.sampled_from([1, 3, 4]),
                       st.sampled_from([8, 16]), st.sampled_from([".png", ".jpg", ".bmp", ".webp"]),
                       st.integers(0, 1000))


def _big16() -> bytes:
    img = np.zeros((4096, 4096, 4), np.uint16)
    img[1000:3000, 1000:3000] = 60000
    return cv2.imencode(".png", img)[1].tobytes()


IMAGES = st.one_of(
    IMAGE_BASE,
    st.builds(_declare_size, IMAGE_BASE, st.sampled_from([0, 1, 4096, 4097, 65535, 2**31 - 1, 2**32 - 1]),
              st.sampled_from([0, 1, 4096, 40000, 2**31 - 1]), st.booleans()),
    st.builds(lambda d, frac: d[:max(1, int(len(d) * frac))], IMAGE_BASE, st.floats(0, 0.99)),
    st.builds(lambda d, i, b: d[:i % len(d)] + bytes([b]) + d[i % len(d) + 1:], IMAGE_BASE,
              st.integers(0, 10**6), st.integers(0, 255)),
    st.builds(lambda head: head + b"\x00" * 64, st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff",
                                                                  b"RIFF\x00\x00\x00\x00WEBPVP8X", b"BM"])),
    st.binary(max_size=64),
)


# ---------------------------------------------------------------- command lines

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


FLAG_VALUES = {
    "--preset": st.one_of(st.sampled_from(list(PRESETS)), st.text(max_size=8)),
    "--epochs": NUMBER_TEXT, "--batch-size": NUMBER_TEXT, "--lr": NUMBER_TEXT,
    "--optimizer": st.sampled_from(["adam", "sgd", "bogus"]), "--scheduler": st.sampled_from(["none", "x"]),
    "--weight-decay": NUMBER_TEXT, "--label-smoothing": NUMBER_TEXT, "--fraction": NUMBER_TEXT,
    "--seed": NUMBER_TEXT, "--device": st.sampled_from(["auto", "cpu", "cuda", "foo", "mps", "cuda:9"]),
    "--log-every": NUMBER_TEXT, "--threads": NUMBER_TEXT, "--dataset": st.sampled_from(["mnist", "kmnist", "x"]),
    "--output": st.one_of(st.sampled_from(["x1", "x1.safetensors", "out/new", "a" * 300, ".hidden", "",
                                           "exists-dir", "sub/../y"]), st.text(min_size=1, max_size=12)),
    "--name": st.text(max_size=20), "--data-dir": st.sampled_from(["nowhere", "."]),
}
SWITCHES = ["--overwrite", "--no-limits", "--augment", "--no-augment", "--bogus-flag"]


@st.composite
def train_argv(draw):
    argv = ["train"]
    for flag in draw(st.lists(st.sampled_from(list(FLAG_VALUES)), max_size=5, unique=True)):
        argv += [flag, draw(FLAG_VALUES[flag])]
    argv += draw(st.lists(st.sampled_from(SWITCHES), max_size=2, unique=True))
    files = {"x1.safetensors": _b64(b"an earlier model")}
    if draw(st.booleans()):
        spec = draw(st.one_of(SPECS.map(lambda s: json.dumps(s).encode()), st.binary(max_size=40),
                              st.just(b"[" * 5000)))
        files["spec.json"] = _b64(spec)
        argv += ["--spec", "spec.json"]
    return {"argv": [a.replace("\x00", "") for a in argv], "files": files, "dirs": ["exists-dir"]}


@st.composite
def evaluate_argv(draw):
    data = draw(CHECKPOINTS)
    extra = draw(st.lists(st.sampled_from(["--no-limits", "--data-dir", "--bogus"]), max_size=1))
    return {"argv": ["evaluate", "--checkpoint", "c.safetensors", *extra], "files": {"c.safetensors": _b64(data)}}


@st.composite
def predict_argv(draw):
    data = draw(IMAGES)
    return {"argv": ["predict", "img.png", "--checkpoint", str(DEFAULT_CHECKPOINT)], "files": {"img.png": _b64(data)}}


CODE_FLAGS = [f for f in FLAG_VALUES if f not in ("--device", "--log-every", "--threads", "--name", "--data-dir")]


@st.composite
def code_argv(draw):
    """`code` takes train's recipe options and writes a script (--output) or prints it."""
    argv = ["code"]
    for flag in draw(st.lists(st.sampled_from(CODE_FLAGS + ["--momentum"]), max_size=5, unique=True)):
        argv += [flag, draw(FLAG_VALUES.get(flag, NUMBER_TEXT))]
    argv += draw(st.lists(st.sampled_from(["--overwrite", "--no-limits", "--augment", "--bogus-flag"]),
                          max_size=2, unique=True))
    files = {"x1.safetensors": _b64(b"an earlier model")}
    if draw(st.booleans()):
        files["spec.json"] = _b64(draw(st.one_of(SPECS.map(lambda s: json.dumps(s).encode()), st.binary(max_size=40))))
        argv += ["--spec", "spec.json"]
    return {"argv": [a.replace("\x00", "") for a in argv], "files": files, "dirs": ["exists-dir"]}


@st.composite
def summary_argv(draw):
    spec = draw(st.one_of(SPECS.map(lambda s: json.dumps(s).encode()), st.binary(max_size=40)))
    which = draw(st.sampled_from([["--spec", "spec.json"], ["--preset", draw(FLAG_VALUES["--preset"])],
                                  ["--spec", "spec.json", "--preset", "fast"], []]))
    extra = draw(st.lists(st.sampled_from(["--no-limits", "--bogus"]), max_size=1))
    return {"argv": ["summary", *[a.replace("\x00", "") for a in which], *extra], "files": {"spec.json": _b64(spec)}}


CLI = st.one_of(train_argv(), evaluate_argv(), predict_argv(), code_argv(), summary_argv(),
                st.lists(st.text(max_size=10), max_size=4).map(lambda a: {"argv": a}))


def _to_worker(item: dict) -> dict:
    # folders the CLI must refuse as output names
    for d in item.pop("dirs", []):
        item.setdefault("files", {})[f"{d}/.keep"] = _b64(b"")
    return item


# ============================================================================ the tests

@FUZZ
@given(batch=st.lists(SPEC_INPUTS, min_size=30, max_size=30))
def test_fuzz_spec_validation_and_limits(batch, tmp_path_factory):
    run_batch("spec", batch, tmp_path_factory.mktemp("fuzz"))


@FUZZ
@given(batch=st.lists(CHECKPOINTS, min_size=25, max_size=25))
def test_fuzz_checkpoint_loader(batch, tmp_path_factory):
    run_batch("checkpoint", [{"data": _b64(b)} for b in batch], tmp_path_factory.mktemp("fuzz"))


@FUZZ
@given(batch=st.lists(IMAGES, min_size=25, max_size=25))
def test_fuzz_image_loader(batch, tmp_path_factory):
    run_batch("image", [{"data": _b64(b)} for b in batch], tmp_path_factory.mktemp("fuzz"))


def test_fuzz_image_loader_big_16_bit_png(tmp_path):
    """The issue's 130 KB 16-bit RGBA PNG that declares 4096×4096, in a 2 GB worker."""
    run_batch("image", [{"data": _b64(_big16())}], tmp_path)


@FUZZ
@given(batch=st.lists(CLI, min_size=20, max_size=20))
def test_fuzz_command_line(batch, tmp_path_factory):
    run_batch("cli", [_to_worker(item) for item in batch], tmp_path_factory.mktemp("fuzz"))


def test_fuzz_reached_both_outcomes():
    """Guards the fuzzers themselves: each entry point saw accepted inputs and refused ones (a
    generator that only ever produced garbage, or only valid inputs, would prove little)."""
    entries = {"spec", "checkpoint", "image", "cli"}
    if not entries <= set(STATS):
        pytest.skip("run with the whole fuzz module")
    for entry in entries:
        assert STATS[entry]["ok"] > 0 and STATS[entry]["error"] > 0, (entry, STATS[entry])
        assert STATS[entry]["inputs"] >= 100, (entry, STATS[entry]["inputs"])
