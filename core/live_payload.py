"""What a run's live view draws, built once per state of the run and shared by every visitor.

Every open live view (the owner's ② Train tab, a watch link on a projector, a teacher's look)
reruns once a second. Rebuilding the loss and accuracy figures and the feature-map grid each time,
for each visitor, was the hot path of a lesson (Plotly figure construction: ~0.1 s for the loss
chart alone on a busy core). A run's curves only change when it records an event, and a feature
snapshot never changes once taken, so the figures are kept here keyed by what they depend on:

  * the curves: (run, event count, language);
  * the feature-map grid, a PNG: (run, snapshot epoch, layer);
  * the probe's probabilities: (run, snapshot epoch, language).

The same key gives the *same* figure object, so every rerun serializes it to the same JSON and
Streamlit sends an identical message: the browser keeps the chart as it is (same element hash),
and Streamlit's message cache can send a reference instead of the chart (`ref_hash`).

Each cached figure is also *frozen*: its `to_dict()` is made once. st.plotly_chart calls it on
every rerun (Plotly deep-copies the figure and packs every array as base64 there); with 5 watch
links open on a run that was 21% of the web server's time in the live views (py-spy,
bench/load_bench.py --visitors 1 --watchers 5), more than building the figures had been.

While a run trains, its curves are redrawn every CHART_REFRESH_SECONDS, not on every poll
(CurveClock): the progress line still moves every second, but a chart whose data changed costs
the *browser* a full Plotly redraw. Measured with CDP on one watch page of a 2-epoch run (Chromium
alone on a core): 0.85 s of main-thread work per second with the curves redrawn on every poll,
0.38 s with a 3 s refresh, 0.22 s with the charts unchanged; a projector or a learner's old
laptop showing a live run should not be kept busy by it. An epoch's end (a new test point) and
the run's end are drawn at once.

`run` is the run's watch token: both the owner's Job and a watch link's JobView know it, and it
says nothing more than the watch link itself. Figures here are shared: callers must not change
them. The cache is bounded (least recently used first out) and thread-safe: every session's
script thread reads it.
"""
from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np
from PIL import Image

from core import metrics
from core.jobs.polling import CHART_SECONDS
from core.figures import Translate
from core.figures.training import accuracy_figure, loss_figure, maps_image, probability_figure

MAX_ENTRIES = 512  # a 60-learner lesson with a few views each: ~5 entries per live run
CHART_REFRESH_SECONDS = CHART_SECONDS  # a live run's curves are redrawn about this often (CurveClock),
# as often as the views poll their charts (core.jobs.polling). A poll whose timer fires a little
# early (a busy browser, a slow rerun before it) still gets the news: without this slack, a view
# polling every 3 s would often see new curves only every 6 s.
REFRESH_SLACK_SECONDS = 0.5


class PayloadCache:
    """A small least-recently-used map from a key to what `build` made for it."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        value = build()   # outside the lock: two sessions may build the same entry once each
        with self._lock:
            self.misses += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


PAYLOADS = PayloadCache()


def frozen(fig):
    """`fig` with its `to_dict()` made once and returned from then on (the figure must not change
    afterwards — true of everything in this cache). The dict is shared: readers only serialize it."""
    if fig is None or not hasattr(fig, "to_dict"):
        return fig
    as_dict = fig.to_dict()
    fig.to_dict = lambda: as_dict   # an instance attribute: plotly lets a known name through
    return fig


class CurveClock:
    """How many of a training run's events its curves show: all of them when last redrawn, and
    that same count until `every` seconds (less REFRESH_SLACK_SECONDS) have passed or an epoch
    has ended since (its test point is news). One count per run, shared by every view of it, so all of them show the same figure
    (one cached payload, one identical message: the browsers redraw nothing in between)."""

    def __init__(self, every: float = CHART_REFRESH_SECONDS, clock: Callable[[], float] = time.monotonic,
                 max_runs: int = MAX_ENTRIES):
        self.every, self._clock, self.max_runs = every, clock, max_runs
        self._shown: OrderedDict[str, tuple[int, float]] = OrderedDict()   # run -> (count, when)
        self._lock = threading.Lock()

    def shown(self, run: str, events: list[dict], live: bool) -> int:
        """The number of leading `events` to draw; all of them once the run is no longer live."""
        n = len(events)
        with self._lock:
            if not live:
                self._shown.pop(run, None)
                return n
            now = self._clock()
            count, when = self._shown.get(run, (None, None))
            if (count is None or n < count or now - when >= self.every - REFRESH_SLACK_SECONDS
                    or any(e.get("event") == "epoch" for e in events[count:])):
                count, when = n, now
            self._shown[run] = (count, when)
            self._shown.move_to_end(run)
            while len(self._shown) > self.max_runs:
                self._shown.popitem(last=False)
            return count


CURVES = CurveClock()


def curve_figures(run: str, events: list[dict], total_steps: int, lang: str, t: Translate, live: bool = False):
    """(loss figure, accuracy figure) of a run whose events are `events` (the count is the key:
    events are only ever appended). `live`: the run is still training, so the curves follow it
    every CHART_REFRESH_SECONDS (CURVES) rather than on every poll."""
    shown = events[:CURVES.shown(run, events, live)]

    def build():
        c = metrics.curves(shown)
        return frozen(loss_figure(c, total_steps, t)), frozen(accuracy_figure(c, total_steps, t))
    return PAYLOADS.get(("curves", run, len(shown), total_steps, lang), build)


def maps_grid(run: str, epoch: int, layer: str, maps: np.ndarray) -> bytes:
    """The feature-map grid (a PNG) of one layer in the snapshot taken after `epoch` (0: before
    training)."""
    return PAYLOADS.get(("maps", run, epoch, layer), lambda: maps_image(maps))


def probabilities(run: str, epoch: int, probs: np.ndarray, classes, true_label: int, lang: str, t: Translate):
    """What the model made of the probe image at that snapshot."""
    return PAYLOADS.get(("probs", run, epoch, lang),
                        lambda: frozen(probability_figure(probs, classes, true_label, t)))


def probe_image(run: str, image: np.ndarray, k: int) -> bytes:
    """The probe image as PNG bytes, each pixel a k×k block: encoded once per run (st.image
    encodes an array to PNG on every call, i.e. every view's every rerun)."""
    def build() -> bytes:
        big = np.kron(image, np.ones((k, k), dtype=image.dtype))
        buf = io.BytesIO()
        Image.fromarray(big).save(buf, format="PNG")
        return buf.getvalue()
    return PAYLOADS.get(("probe", run, k), build)
