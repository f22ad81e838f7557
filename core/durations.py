"""Durations for people: 42 s, 3 min 5 s, 1 h 20 min (the unit chosen once, here)."""
from __future__ import annotations

import math


def duration_parts(seconds: float) -> tuple[str, dict[str, int]]:
    """(unit, values) for a duration: ("s", {"s"}), ("m", {"m", "s"}) or ("h", {"h", "m"}).

    Pages turn it into text with their catalog, e.g. t(f"train.time_{unit}", **values)."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return "s", {"s": seconds}
    if seconds < 3600:
        return "m", {"m": seconds // 60, "s": seconds % 60}
    return "h", {"h": seconds // 3600, "m": seconds % 3600 // 60}


def estimate_parts(seconds: float) -> tuple[str, dict[str, int]]:
    """An estimate, only as precise as it deserves: under a minute it is rounded up to the next
    10 s (at least 10 s: "0 s left" would be a promise), under an hour to whole minutes ("5 min",
    never "5 min 19 s"); longer ones as duration_parts. Unit "min" is whole minutes alone."""
    if seconds < 60:
        return duration_parts(max(10, math.ceil(seconds / 10) * 10))
    if seconds < 3600:
        return "min", {"m": round(seconds / 60)}
    return duration_parts(seconds)
