"""How pages write numbers for people: percentages, durations, estimates, places, clock times.

One place, so the Train, Class and Predict pages say "97.3%", "3 min 5 s", "about 5 min (around
14:05)" the same way. The rounding decisions live in core.durations; this module only picks the
words of the session's language (app.ui.t).
"""
from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from app.ui import lang, t
from core.durations import duration_parts, estimate_parts

NONE = "—"  # what a table shows for a number it does not have


def pct(x: float | None, digits: int = 1) -> str:
    """0.973 → "97.3%"; "—" for a missing or non-finite value."""
    return NONE if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def duration(seconds: float | None, unknown: str | None = None) -> str:
    """A measured duration: "42 s", "3 min 5 s", "1 h 20 min"; `unknown` (default "a moment")
    when there is none yet."""
    if seconds is None:
        return t("train.time_unknown") if unknown is None else unknown
    unit, values = duration_parts(seconds)
    return t(f"train.time_{unit}", **values)


def estimate(seconds: float | None) -> str:
    """A guess about the future, as precise as it deserves: "40 s", "5 min" (never "5 min 19 s")."""
    if seconds is None:
        return t("train.time_unknown")
    unit, values = estimate_parts(seconds)
    return t(f"train.time_{unit}", **values)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 11th … in English; the Chinese text says 第 {n} 位 around the bare number."""
    if lang() != "en":
        return str(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def clock(at: float | None) -> str | None:
    """A wall-clock time (time.time()) as HH:MM in the visitor's own time zone; None when the
    browser did not say which (the relative time is always shown next to it)."""
    tz = st.context.timezone
    if at is None or not tz:
        return None
    try:
        return datetime.fromtimestamp(at, ZoneInfo(tz)).strftime("%H:%M")
    except (ZoneInfoNotFoundError, ValueError, OverflowError):
        return None


def when(seconds: float | None, at: float | None) -> str:
    """"about 2 min (around 14:05)" / "about 2 min"; the estimate's own wording when unknown."""
    if seconds is None:
        return t("train.eta_unknown")
    at_clock = clock(at)
    text = t("train.eta", eta=estimate(seconds))
    return t("train.eta_clock", eta=text, clock=at_clock) if at_clock else text
