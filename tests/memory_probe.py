"""Run by tests/test_upload_memory.py in a fresh process: how much memory above the process's
baseline (everything imported, one small file already decoded) decoding the given files costs.

    python tests/memory_probe.py image|image-full|checkpoint THREADS FILE...

Prints one JSON line: {"baseline_mb": ..., "peak_mb": ..., "above_mb": ...}. The peak is the
kernel's high-water mark of resident memory, so nothing transient between samples is missed: VmHWM
from /proc/self/status, reset to the current RSS after the warm-up (clear_refs 5). Not
resource.getrusage's ru_maxrss: Linux keeps that across exec, so a probe started by a 430 MB
pytest process reports 430 MB whatever it does.
"""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import cv2  # noqa: F401  (imported by the page before any upload)
import numpy as np
import torch  # noqa: F401

from core.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint_bytes
from core.images import encode_png, load_image_bytes
from core.preprocess import UPLOAD_SIDE, preprocess


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> float:
    """Reset the high-water mark to the current RSS; return that RSS (the baseline)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def peak_mb() -> float:
    return _status_mb("VmHWM")


def use_image(data: bytes) -> None:
    """What the Predict page does with an upload (decode at its size, then preprocess)."""
    image = load_image_bytes(data, max_side=UPLOAD_SIDE)
    preprocess(image)


def use_image_full(data: bytes) -> None:
    """What the page did before issue 23 (decode in full, then shrink): for comparison."""
    from core.images import fit_within

    preprocess(fit_within(load_image_bytes(data), UPLOAD_SIDE))


def use_checkpoint(data: bytes) -> None:
    ckpt = load_checkpoint_bytes(data, "upload")
    with torch.no_grad():
        ckpt.model(torch.zeros(1, 1, 28, 28))


def main() -> None:
    kind, threads, files = sys.argv[1], int(sys.argv[2]), [Path(p).read_bytes() for p in sys.argv[3:]]
    use = {"image": use_image, "image-full": use_image_full, "checkpoint": use_checkpoint}[kind]
    # Warm up: every lazy import and first-call allocation happens before the baseline.
    small = np.zeros((64, 64, 3), np.uint8)
    cv2.circle(small, (32, 32), 20, (255, 255, 255), 5)
    use_image(encode_png(small))
    use_checkpoint(DEFAULT_CHECKPOINT.read_bytes())
    baseline = reset_peak()
    for data in files:
        workers = [threading.Thread(target=use, args=(data,)) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    peak = peak_mb()
    print(json.dumps({"baseline_mb": round(baseline, 1), "peak_mb": round(peak, 1),
                      "above_mb": round(peak - baseline, 1)}))


if __name__ == "__main__":
    main()
