"""What one refresh of the lesson's pages costs in core: a class of N learners with R finished
runs each (real JobManager, scripted runs that report E epochs), then the median time of what the
Class page does every 2 s (sync_runs + class_roster), what the projector does (projector_view +
race_figure) and the export (export_rows + CSV + JSON).

    .venv/bin/python bench/lesson_bench.py [--learners 40] [--runs 3] [--epochs 5] [--repeat 15]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import DATASETS, Dataset  # noqa: E402
from core.figures.race import race_figure  # noqa: E402
from core.i18n import translate  # noqa: E402
from core.jobs import JobManager  # noqa: E402
from core.lesson.assignments import make_assignment  # noqa: E402
from core.lesson.export import export_rows, roster_csv, roster_json  # noqa: E402
from core.lesson.store import LessonStore  # noqa: E402
from core.lesson.times import zone  # noqa: E402
from core.lesson.views import class_roster, projector_view, sync_runs  # noqa: E402
from core.models import FLATTEN, RELU, conv, linear  # noqa: E402
from core.train_config import TrainConfig  # noqa: E402

SPEC = [conv(4, 3, 1, 0), RELU, FLATTEN, linear(10)]


class ScriptedRun:
    """A run that reports `epochs` epochs of rising accuracy at once (no model: no snapshots)."""

    def __init__(self, epochs: int, seed: int):
        self.model, self.last_eval, self.history = None, None, []
        self.epochs, self.seed = epochs, seed

    def events(self):
        yield {"event": "start", "total_steps": self.epochs, "epochs": self.epochs}
        acc = 0.9
        for e in range(1, self.epochs + 1):
            acc += (1 - acc) * 0.3 * (1 + (self.seed % 7) / 10)
            yield {"event": "step", "step": e, "epoch": e, "accuracy": acc, "loss": 1 - acc, "total_steps": self.epochs}
            yield {"event": "epoch", "epoch": e, "step": e, "test_accuracy": acc, "test_loss": 1 - acc}
        yield {"event": "done", "test_accuracy": acc, "test_loss": 1 - acc, "train_seconds": 1.0 * self.epochs,
               "calibration": {"test_ece_calibrated": 0.01}}


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    images = torch.zeros(20, 28, 28, dtype=torch.uint8)
    labels = torch.zeros(20, dtype=torch.int64)
    data = Dataset(DATASETS["mnist"], images, labels, images, labels)
    with tempfile.TemporaryDirectory() as tmp:
        store = LessonStore(Path(tmp))
        a = store.add_assignment(make_assignment("Bench", "A bench.", "mnist", max_epochs=10))
        jm = JobManager(initial_rate=1e9, per_owner=args.runs, keep_per_owner=args.runs, workers=2,
                        run_factory=lambda config, d, stop: ScriptedRun(config.epochs, config.seed))
        try:
            jobs = []
            for i in range(args.learners):
                ws = f"w{i:03d}"
                store.join(ws, f"learner {i}", None, None)
                for r in range(args.runs):
                    job = jm.start(ws, TrainConfig(spec=SPEC, epochs=args.epochs, seed=i * 10 + r), data,
                                   nickname=f"learner {i}")
                    store.record_run(job, a.id)
                    jobs.append(job)
            for job in jobs:
                assert job.wait(120), "a scripted run did not end"
            written = []
            first = median_ms(lambda: written.append(sync_runs(store, jm)), 1)
            steady = median_ms(lambda: sync_runs(store, jm), args.repeat)
            roster = median_ms(lambda: class_roster(store, jm), args.repeat)
            t = lambda key, **v: translate("en", key, **v)  # noqa: E731
            view = median_ms(lambda: projector_view(store, jm), args.repeat)
            pv = projector_view(store, jm)
            figure = median_ms(lambda: race_figure(pv.lines, t, zone("Asia/Shanghai")).to_json(), args.repeat)
            export = median_ms(lambda: (roster_csv(rows := export_rows(store.runs(), store.assignments(),
                                                                       store.roster(), "Asia/Shanghai")),
                                        roster_json(rows, "Asia/Shanghai")), args.repeat)
        finally:
            jm.shutdown()
    n = args.learners * args.runs
    print(f"{args.learners} learners, {n} finished runs of {args.epochs} epochs (median of {args.repeat}):")
    print(f"  sync_runs, first (records {written[0]} results)   {first:8.1f} ms")
    print(f"  sync_runs, steady (all final)           {steady:8.1f} ms")
    print(f"  class_roster                            {roster:8.1f} ms")
    print(f"  projector_view                          {view:8.1f} ms")
    print(f"  race_figure + to_json ({len(pv.lines)} lines)       {figure:8.1f} ms")
    print(f"  export rows + CSV + JSON                {export:8.1f} ms")


if __name__ == "__main__":
    main()
