"""Time to filter a 1024×1024 colour photo with the Convolution page's core function.

The page's "Kernels on photos" tab calls core.conv.filter_image (every colour channel on its own,
zero padding that keeps the size, stride 1) and then core.conv.to_display to make a picture of the
result. This script times exactly that on the bundled sample photo scaled to 1024×1024, for a 3×3
and a 5×5 kernel (and greyscale), and reports the median of N runs after one warm-up run.

    python bench/conv_bench.py              # table
    python bench/conv_bench.py --runs 50    # more runs
    python bench/conv_bench.py --json       # one JSON object
    python bench/conv_bench.py --check      # exit 1 when a median misses the target

Target (issue 3): under 300 ms per 1024×1024 photo on the project's 2-core machines. This is where
that target is measured: the unit tests check what filtering computes, never how fast (a timed test
fails on a healthy product whenever the machine is busy). The "best" column is the fastest of the
runs, the figure least disturbed by other work on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.conv import KERNEL_PRESETS, auto_display_mode, filter_image, to_display  # noqa: E402
from core.images import load_image_file  # noqa: E402

TARGET_MS = 300.0
CASES = [  # (name, preset, greyscale)
    ("3×3 box blur, colour", "box_blur", False),
    ("3×3 Sobel X, colour", "sobel_x", False),
    ("5×5 Gaussian, colour", "gaussian", False),
    ("5×5 Gaussian, greyscale", "gaussian", True),
]


def time_case(img: np.ndarray, kernel: np.ndarray, gray: bool, runs: int) -> dict:
    pad = kernel.shape[0] // 2
    mode = auto_display_mode(kernel)

    def once() -> np.ndarray:
        return to_display(filter_image(img, kernel, stride=1, padding=pad, gray=gray), mode)

    out = once()  # warm-up (first-call allocations)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
        "out_shape": list(out.shape),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per case (default 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if a median exceeds {TARGET_MS:.0f} ms")
    args = parser.parse_args()

    photo = load_image_file(ROOT / "assets" / "astronaut.png")
    img = cv2.resize(photo, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    results = {}
    for name, preset, gray in CASES:
        results[name] = time_case(img, KERNEL_PRESETS[preset].kernel, gray, args.runs)
    ok = all(r["median_ms"] < TARGET_MS for r in results.values())
    report = {
        "bench": "conv_filter_1024", "runs": args.runs, "target_ms": TARGET_MS, "ok": ok,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "opencv": cv2.__version__, "threads": cv2.getNumThreads()},
        "results": results,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"Filtering a 1024×1024 photo (core.conv.filter_image + to_display), median of {args.runs} runs")
        print(f"{'case':<26}{'median':>10}{'best':>10}{'max':>10}   output")
        for name, r in results.items():
            print(f"{name:<26}{r['median_ms']:>8.1f}ms{r['min_ms']:>8.1f}ms{r['max_ms']:>8.1f}ms   "
                  f"{'×'.join(map(str, r['out_shape']))}")
        print(f"target < {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
