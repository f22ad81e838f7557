"""Durations for people: 42 s, 3 min 5 s, 1 h 20 min (the unit chosen once, here)."""
from __future__ import annotations


def duration_parts(seconds: float) -> tuple[str, dict[str, int]]:
    """(unit, values) for a duration: ("s", {"s"}), ("m", {"m", "s"}) or ("h", {"h", "m"}).

    Pages turn it into text with their catalog, e.g. t(f"train.time_{unit}", **values)."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return "s", {"s": seconds}
    if seconds < 3600:
        return "m", {"m": seconds // 60, "s": seconds % 60}
    return "h", {"h": seconds // 3600, "m": seconds % 3600 // 60}
