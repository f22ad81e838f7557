"""Runs one batch of fuzz inputs against one CNN Lab entry point, inside resource limits.

    python tests/fuzz_worker.py <entry>  < batch.json  > results.json

Started by tests/test_fuzz.py in a fresh process, in a temporary working folder, with
RLIMIT_AS (address space) and RLIMIT_CPU set *before* anything is imported, so an input that
tried to allocate gigabytes fails here instead of taking the machine down. Every input gets one
result: "ok" (a correct result, checked here), "error" (one of the project's own error types,
one sentence), or "bad" (anything else: the fuzz test fails on it).
"""
from __future__ import annotations

import base64
import io
import json
import os
import resource
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

MEMORY_LIMIT = int(os.environ.get("FUZZ_MEMORY_LIMIT", 2 << 30))
CPU_SECONDS = int(os.environ.get("FUZZ_CPU_SECONDS", 120))
resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from core import limits as limits_mod  # noqa: E402
from core.checkpoint import CheckpointError, load_checkpoint_bytes  # noqa: E402
from core.images import ImageError, load_image_bytes  # noqa: E402
from core.models import SpecError, build_model  # noqa: E402
from core.train import ConfigError, TrainConfig, check_config  # noqa: E402

LIMITS = limits_mod.current()


def one_sentence(message: str) -> bool:
    return bool(message) and "\n" not in message and "Traceback" not in message and len(message) < 600


def check_spec_input(item) -> str:
    spec, config = item["spec"], item.get("config", {})
    try:
        limits_mod.check_spec(spec, batch_size=1)
        check_config(TrainConfig(spec=spec, **config))
    except (SpecError, ConfigError) as e:
        return "error" if one_sentence(str(e)) else f"bad message: {e!r}"
    # Accepted: it must be within every limit and really build and run.
    figures = limits_mod.spec_figures(spec, batch_size=int(config.get("batch_size", 128)))
    over = [f.key for f in figures if not f.ok]
    if over:
        return f"bad: accepted over the limits {over}"
    model = build_model(spec)
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 1, 28, 28))
    if tuple(out.shape) != (1, 10):
        return f"bad: output shape {tuple(out.shape)}"
    return check_exported_script(TrainConfig(spec=spec, **config), model)


def check_exported_script(config, model) -> str:
    """An accepted spec's training script (core.codegen) compiles, its model class has core's
    tensors, and it depends on the validated numbers only: the script of the normalized spec is
    the same text, so nothing else the input carried (extra keys, strings) reached it."""
    from dataclasses import replace

    from core.codegen import training_script
    from core.models import validate

    script = training_script(config)
    if script != training_script(replace(config, spec=validate(config.spec))):
        return "bad: the exported script depends on more than the spec's validated values"
    namespace = {"__name__": "exported"}
    exec(compile(script, "exported.py", "exec"), namespace)
    shapes = [tuple(v.shape) for v in namespace["Net"]().state_dict().values()]
    if shapes != [tuple(v.shape) for v in model.state_dict().values()]:
        return "bad: the exported model's tensors differ from core's"
    return "ok"


def check_checkpoint_input(item) -> str:
    data = base64.b64decode(item["data"])
    try:
        ckpt = load_checkpoint_bytes(data, "upload.safetensors")
    except CheckpointError as e:
        return "error" if one_sentence(str(e)) else f"bad message: {e!r}"
    params = sum(p.numel() for p in ckpt.model.parameters())
    if LIMITS.max_params is not None and params > LIMITS.max_params:
        return f"bad: {params} parameters accepted"
    with torch.no_grad():
        out = ckpt.model(torch.zeros(1, 1, 28, 28))
    if tuple(out.shape) != (1, len(ckpt.classes)) or not torch.isfinite(out).all():
        return "bad: the loaded model does not give one finite score per class"
    return "ok"


def check_image_input(item) -> str:
    data = base64.b64decode(item["data"])
    try:
        img = load_image_bytes(data)
    except ImageError as e:
        return "error" if one_sentence(str(e)) else f"bad message: {e!r}"
    if not (isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3):
        return f"bad: result {type(img).__name__} {getattr(img, 'shape', None)}"
    if img.shape[0] * img.shape[1] > (LIMITS.max_image_pixels or 4096 * 4096):
        return f"bad: {img.shape} decoded over the pixel limit"
    return "ok"


class ReachedData(BaseException):
    """Every check passed and the command went on to load the dataset: a valid command line."""


def check_cli_input(item) -> str:
    import core.__main__ as cli

    for name, content in item.get("files", {}).items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_bytes(base64.b64decode(content))

    def reached(*a, **k):
        raise ReachedData

    cli.load_dataset = reached
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main(item["argv"])
    except ReachedData:
        return "ok"
    except SystemExit as e:  # --help
        return "ok" if e.code in (0, None) else f"bad: SystemExit({e.code})"
    lines = err.getvalue().strip().splitlines()
    if code == 0:
        return "ok" if not lines else f"bad: exit 0 with stderr {lines[:2]}"
    if code == 2 and lines and all(line.startswith("error: ") and one_sentence(line) for line in lines) \
            and (len(lines) == 1 or item["argv"][0] == "predict"):
        return "error"
    return f"bad: exit {code}, stderr {err.getvalue()[-300:]!r}"


ENTRIES = {"spec": check_spec_input, "checkpoint": check_checkpoint_input, "image": check_image_input,
           "cli": check_cli_input}


def main() -> None:
    entry = sys.argv[1]
    batch = json.loads(sys.stdin.read())
    results = []
    for item in batch:
        try:
            results.append(ENTRIES[entry](item))
        except MemoryError:
            results.append("bad: MemoryError (over the address-space limit)")
        except Exception as e:  # noqa: BLE001 - every other exception is a finding
            results.append(f"bad: {type(e).__name__}: {str(e)[:300]}")
    sys.stdout.write(json.dumps({"results": results, "peak_mb": peak_resident_mb()}))


def peak_resident_mb() -> float:
    """This process's peak resident memory since it started (VmHWM). ru_maxrss is not used: Linux
    carries the parent's maximum over fork and exec, so it would report pytest's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


if __name__ == "__main__":
    main()
