"""Run by tests/test_run_caps.py in a fresh process: the memory a run's test-set evaluation takes
above the process's baseline, for a spec whose training activations the limit accepts but whose
activations per image are large (a 1×1 convolution with 1,300 channels, then max-pool 28).

    python tests/eval_memory_probe.py N_TEST

Prints one JSON line: {"eval_batch": ..., "baseline_mb": ..., "peak_mb": ..., "above_mb": ...}.
The peak is VmHWM, reset to the current RSS after the warm-up (see tests/memory_probe.py).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from core.data import DATASETS, Dataset
from core.models import FLATTEN, conv, linear, pool
from core.train import TrainConfig, TrainingRun

SPEC = [conv(1300, 1, 1, 0), pool(28), FLATTEN, linear(10)]


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    n_test = int(sys.argv[1])
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 255, (n_test, 28, 28), dtype=np.uint8))
    labels = torch.from_numpy(rng.integers(0, 10, n_test).astype(np.int64))
    data = Dataset(DATASETS["mnist"], images[:10], labels[:10], images, labels)
    run = TrainingRun(TrainConfig(spec=SPEC, epochs=1, batch_size=16), data)
    x, y = run.test_tensors()
    with torch.no_grad():                      # warm-up: first-call allocations before the baseline
        run.model.eval()(x[:1].contiguous())
    del x, y
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _status_mb("VmRSS")
    run.evaluate_test()
    peak = _status_mb("VmHWM")
    print(json.dumps({"eval_batch": run.eval_batch, "baseline_mb": round(baseline, 1),
                      "peak_mb": round(peak, 1), "above_mb": round(peak - baseline, 1)}))


if __name__ == "__main__":
    main()
