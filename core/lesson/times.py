"""Times as the viewer reads them: in the viewer's time zone (an IANA name the page takes from
the browser, Streamlit's `st.context.timezone`), never the server's. UTC when the browser did not
say or named a zone this machine does not know."""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> tzinfo:
    """The IANA time zone `name`, or UTC when it is missing or unknown."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.utc


def zone_name(name: str | None) -> str:
    """The name of the zone `zone(name)` uses ("UTC" for the fallback)."""
    return getattr(zone(name), "key", "UTC")


def local_time(epoch: float | None, tz: str | None) -> str:
    """UTC epoch seconds as "YYYY-MM-DD HH:MM:SS+HH:MM" in `tz` ("" for None): for exports."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone(zone(tz)).isoformat(sep=" ", timespec="seconds")


def clock_time(epoch: float | None, tz: str | None) -> str:
    """"HH:MM" in `tz` ("" for None): for a board or a deadline shown today."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone(zone(tz)).strftime("%H:%M")


def date_time(epoch: float | None, tz: str | None) -> str:
    """"YYYY-MM-DD HH:MM (Zone/Name)" in `tz` ("" for None): for a deadline, which may be another
    day than today, named with the zone it is read in (a class may span zones online)."""
    if epoch is None:
        return ""
    local = datetime.fromtimestamp(epoch, timezone.utc).astimezone(zone(tz))
    return f"{local:%Y-%m-%d %H:%M} ({zone_name(tz)})"


def from_local(date_time: datetime, tz: str | None) -> float:
    """A deadline the teacher picked as a naive local date and time (st.date_input +
    st.time_input) in their zone, as UTC epoch seconds (an aware datetime keeps its own zone)."""
    if date_time.tzinfo is None:
        date_time = date_time.replace(tzinfo=zone(tz))
    return date_time.timestamp()


__all__ = ["clock_time", "date_time", "from_local", "local_time", "zone", "zone_name"]
