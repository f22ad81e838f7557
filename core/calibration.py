"""Calibrated confidence: temperature scaling, expected calibration error, reliability diagrams.

A network's softmax is not a probability you can take at its word. Trained with label smoothing
(the fast and accurate presets use 0.1) it is *under*-confident: a clean digit it almost never
gets wrong shows ~91%. Trained without it, it is usually *over*-confident: ~100% even on digits it
gets wrong now and then. Temperature scaling (Guo et al., "On Calibration of Modern Neural
Networks", 2017) fixes both with one number T fitted after training: probabilities become
softmax(logits / T). T < 1 sharpens, T > 1 softens; the predicted class never changes, so
accuracy is untouched. T is fitted by minimising the negative log-likelihood on images the model
did not train on — a held-out slice of the *training* set, never the test set, which stays an
honest measurement.

Expected calibration error (ECE) measures what is left: sort predictions into 15 equal-width
confidence bins (lower, upper], and average |accuracy − mean confidence| over the bins, weighted
by how many predictions fall in each. An ECE of 1% means "when the model says 90%, it is right
about 89–91% of the time", on average over the predictions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F

N_BINS = 15
# A fitted T outside this range means the fit went wrong (or a checkpoint was tampered with):
# 0.05 would turn a logit gap of 1 into 20, 20 would flatten every prediction to near-uniform.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


# --------------------------------------------------------------------------- temperature

def _as_tensor(values, dtype) -> torch.Tensor:
    return values.detach().cpu().to(dtype) if isinstance(values, torch.Tensor) else torch.as_tensor(
        np.asarray(values), dtype=dtype)


def fit_temperature(logits, labels, max_iter: int = 100) -> float:
    """The temperature T minimising the mean NLL of softmax(logits / T) against `labels`.

    Optimised over log T (T stays positive, and the loss is smoother in log T) with L-BFGS, in
    float64 on the CPU: one scalar, a few dozen evaluations over a few thousand rows. The result
    is clipped to [MIN_TEMPERATURE, MAX_TEMPERATURE]; a held-out slice the model gets entirely
    right (a toy problem) pushes T towards 0 and ends at the lower bound.
    """
    z = _as_tensor(logits, torch.float64)
    y = _as_tensor(labels, torch.int64)
    if z.dim() != 2 or z.shape[0] != y.shape[0]:
        raise ValueError(f"logits must be [N, C] and labels [N]; got {tuple(z.shape)} and {tuple(y.shape)}.")
    if z.shape[0] == 0:
        raise ValueError("Fitting a temperature needs at least one held-out example.")
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    lo, hi = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    opt = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        # Clamping inside the loss keeps a runaway line search from overflowing exp().
        loss = F.cross_entropy(z / log_t.clamp(lo - 1, hi + 1).exp(), y)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    t = math.exp(float(log_t.detach()))
    return float(min(max(t, MIN_TEMPERATURE), MAX_TEMPERATURE)) if math.isfinite(t) else 1.0


def apply_temperature(logits, temperature: float):
    """logits / T, in the type given (a tensor stays a tensor)."""
    if isinstance(logits, torch.Tensor):
        return logits / temperature
    return np.asarray(logits, dtype=np.float64) / temperature


def calibrated_probabilities(logits, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) along the last axis as float64 NumPy; T = 1 is the raw softmax."""
    z = _as_tensor(logits, torch.float64)
    return torch.softmax(z / float(temperature), -1).numpy()


def nll(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of softmax(logits / T)."""
    z = _as_tensor(logits, torch.float64)
    return float(F.cross_entropy(z / float(temperature), _as_tensor(labels, torch.int64)))


# --------------------------------------------------------------------------- ECE and bins

@dataclass(frozen=True)
class ReliabilityBins:
    """Per confidence bin (lower, upper]: mean confidence, accuracy and count (NaN when empty)."""
    lower: np.ndarray
    upper: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def total(self) -> int:
        return int(self.count.sum())

    @property
    def ece(self) -> float:
        """Expected calibration error: Σ count/N · |accuracy − confidence| over non-empty bins."""
        used = self.count > 0
        if not used.any():
            return 0.0
        gap = np.abs(self.accuracy[used] - self.confidence[used])
        return float((gap * self.count[used]).sum() / self.count.sum())

    def to_dict(self, digits: int = 5) -> dict[str, list]:
        """JSON-able (NaN becomes None), for a training event or a checkpoint's metadata."""
        def clean(a):
            return [None if not math.isfinite(v) else round(float(v), digits) for v in a]
        return {"confidence": clean(self.confidence), "accuracy": clean(self.accuracy),
                "count": [int(c) for c in self.count]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ReliabilityBins":
        count = np.asarray(d["count"], dtype=np.int64)
        edges = np.linspace(0.0, 1.0, len(count) + 1)
        as_float = lambda k: np.array([np.nan if v is None else v for v in d[k]], dtype=np.float64)  # noqa: E731
        return cls(edges[:-1], edges[1:], as_float("confidence"), as_float("accuracy"), count)


def reliability_bins(confidences, correct, n_bins: int = N_BINS) -> ReliabilityBins:
    """Sort predictions into `n_bins` equal-width bins (lower, upper] of their confidence.

    `confidences` are the top-class probabilities, `correct` whether each prediction was right.
    A confidence of exactly 0 goes into the first bin.
    """
    conf = np.asarray(confidences, dtype=np.float64).ravel()
    ok = np.asarray(correct, dtype=np.float64).ravel()
    if conf.shape != ok.shape:
        raise ValueError(f"{conf.size} confidences but {ok.size} correctness flags.")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, conf, minlength=n_bins) / count
        accuracy = np.bincount(index, ok, minlength=n_bins) / count
    return ReliabilityBins(edges[:-1], edges[1:], mean_conf, accuracy, count)


def expected_calibration_error(confidences, correct, n_bins: int = N_BINS) -> float:
    return reliability_bins(confidences, correct, n_bins).ece


def bins_from_logits(logits, labels, temperature: float = 1.0, n_bins: int = N_BINS) -> ReliabilityBins:
    """Reliability bins of a model's predictions, after scaling its logits by 1/T."""
    p = calibrated_probabilities(logits, temperature)
    y = _as_tensor(labels, torch.int64).numpy()
    return reliability_bins(p.max(-1), p.argmax(-1) == y, n_bins)


def calibration_report(logits, labels, temperature: float) -> dict[str, float]:
    """ECE and NLL of the raw softmax and of softmax(logits / T) on one set of predictions."""
    return {"ece_raw": bins_from_logits(logits, labels, 1.0).ece,
            "ece_calibrated": bins_from_logits(logits, labels, temperature).ece,
            "nll_raw": nll(logits, labels, 1.0),
            "nll_calibrated": nll(logits, labels, temperature)}


# --------------------------------------------------------------------------- checkpoints

def temperature_from_meta(meta: Mapping[str, Any] | None) -> float:
    """The fitted temperature a checkpoint's metadata records, or 1.0 (the raw softmax).

    `python -m core train` writes it to meta["calibration"]; the Train page saves the final
    metrics, so there it sits in meta["metrics"]["calibration"]. A missing, non-numeric,
    non-finite or out-of-range value (an old or hand-edited file) is ignored: 1.0.
    """
    if not isinstance(meta, Mapping):
        return 1.0
    for holder in (meta, meta.get("metrics")):
        calib = holder.get("calibration") if isinstance(holder, Mapping) else None
        t = calib.get("temperature") if isinstance(calib, Mapping) else None
        if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) \
                and MIN_TEMPERATURE <= t <= MAX_TEMPERATURE:
            return float(t)
    return 1.0


def calibration_from_meta(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The whole calibration record of a checkpoint (see `temperature_from_meta`), or None."""
    if not isinstance(meta, Mapping):
        return None
    for holder in (meta, meta.get("metrics")):
        calib = holder.get("calibration") if isinstance(holder, Mapping) else None
        if isinstance(calib, Mapping):
            return dict(calib)
    return None


def bins_from_record(record: Mapping[str, Any] | None) -> tuple[ReliabilityBins, ReliabilityBins] | None:
    """(calibrated, raw) test-set bins of a run's calibration record, or None if it has none.

    The record is the "done" event's "calibration" (`Job.metrics()["calibration"]`) or a saved
    checkpoint's (`calibration_from_meta(meta)`), so a diagram needs neither data nor model.
    """
    rel = record.get("test_reliability") if isinstance(record, Mapping) else None
    try:
        return ReliabilityBins.from_dict(rel["calibrated"]), ReliabilityBins.from_dict(rel["raw"])
    except (KeyError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- diagram

def reliability_figure(calibrated: ReliabilityBins, raw: ReliabilityBins | None = None,
                       lang: str = "en"):
    """A Plotly reliability diagram: accuracy against mean confidence per bin, and the diagonal.

    Points on the dashed diagonal are perfectly calibrated; below it the model is over-confident,
    above it under-confident. Marker area follows the number of predictions in the bin (most sit
    in the top bin for a good MNIST model), so a lone mistake in a sparse bin does not dominate.
    """
    import plotly.graph_objects as go

    from core.i18n import translate

    def tr(key, **v):
        return translate(lang, f"train.calib_{key}", **v)

    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name=tr("perfect"),
                    line=dict(dash="dash", color="#888888", width=1), hoverinfo="skip")
    series = [(raw, tr("raw", ece=f"{100 * raw.ece:.2f}"), "#E45756")] if raw is not None else []
    series.append((calibrated, tr("calibrated", ece=f"{100 * calibrated.ece:.2f}"), "#4C78A8"))
    for bins, name, colour in series:
        used = bins.count > 0
        total = max(bins.total, 1)
        size = 6 + 20 * np.sqrt(bins.count[used] / total)
        fig.add_scatter(
            x=bins.confidence[used], y=bins.accuracy[used], mode="lines+markers", name=name,
            line=dict(color=colour), marker=dict(size=size, color=colour),
            customdata=np.stack([bins.lower[used], bins.upper[used], bins.count[used]], -1),
            hovertemplate=tr("hover"))
    fig.update_layout(title=tr("title"), xaxis_title=tr("axis_confidence"), yaxis_title=tr("axis_accuracy"),
                      xaxis=dict(range=[0, 1.02], tickformat=".0%"),
                      yaxis=dict(range=[0, 1.02], tickformat=".0%", scaleanchor="x"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
                      margin=dict(l=10, r=10, t=70, b=10), height=420)
    return fig


__all__ = [
    "N_BINS", "MIN_TEMPERATURE", "MAX_TEMPERATURE", "fit_temperature", "apply_temperature",
    "calibrated_probabilities", "nll", "ReliabilityBins", "reliability_bins",
    "expected_calibration_error", "bins_from_logits", "calibration_report", "temperature_from_meta",
    "calibration_from_meta", "bins_from_record", "reliability_figure",
]
