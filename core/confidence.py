"""What confidence the Predict page shows for a model: its fitted temperature (if any), the
temperature its sample grid uses, the model's recorded accuracy, and when a prediction is unsure.

Plain decisions on checkpoint metadata (no Streamlit): the page asks, core answers.
"""
from __future__ import annotations

from typing import Any, Mapping

from core.calibration import calibration_from_meta, temperature_from_meta

LOW_CONFIDENCE = 0.5  # below this the page says the model is unsure (never hides the guess)


def fitted_temperature(meta: Mapping[str, Any] | None) -> float | None:
    """The softmax temperature fitted after the model's training, or None when it has none (an
    older checkpoint, or a run without a hold-out): its probabilities are then the raw softmax.
    A recorded value outside the accepted range is ignored (None), never clamped."""
    record = calibration_from_meta(meta)
    fitted = record.get("temperature") if record else None
    if not isinstance(fitted, (int, float)) or isinstance(fitted, bool):
        return None
    temperature = temperature_from_meta(meta)
    return temperature if temperature == float(fitted) else None


def shown_temperature(meta: Mapping[str, Any] | None, calibrated_on: bool) -> float:
    """The temperature behind every probability the page shows: the fitted one while the
    visitor keeps "calibrated" on, else 1.0 (the raw softmax)."""
    fitted = fitted_temperature(meta)
    return fitted if fitted is not None and calibrated_on else 1.0


def recorded_accuracy(meta: Mapping[str, Any] | None) -> float | None:
    """The test accuracy a checkpoint records (older files call it "accuracy"), or None."""
    metrics = (meta or {}).get("metrics") or {}
    value = metrics.get("test_accuracy", metrics.get("accuracy"))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def is_unsure(probability: float) -> bool:
    return probability < LOW_CONFIDENCE
