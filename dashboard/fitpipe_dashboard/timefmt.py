"""Times as a trial manager reads them: relative ("3 h ago"), in the participant's own time zone, and the
API's UTC instants turned into local wall-clock times for the charts' axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

__all__ = ["parse_instant", "hours_since", "ago", "to_local", "local_label"]


def parse_instant(value: str | None) -> datetime | None:
    """An ISO 8601 instant from the API (Z or an offset); None stays None."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def hours_since(value: str | None, now: datetime) -> float | None:
    then = parse_instant(value)
    return None if then is None else (now - then).total_seconds() / 3600


def ago(hours: float | None) -> str:
    """'never', 'just now', '40 min ago', '3 h ago', '5 d ago' (the same words the grid's formatter uses)."""
    if hours is None:
        return "never"
    if hours < 0:
        return "in the future"
    minutes = hours * 60
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes:.0f} min ago"
    if hours < 48:
        return f"{hours:.0f} h ago"
    return f"{hours / 24:.0f} d ago"


def to_local(instants: Sequence[str | datetime], timezone: str) -> pd.DatetimeIndex:
    """Instants (aware datetimes, or ISO text from a store) as naive local wall-clock times of `timezone` (what
    a chart axis shows)."""
    if not instants:
        return pd.DatetimeIndex([])
    return (
        pd.DatetimeIndex(pd.to_datetime(pd.Series(list(instants), dtype=object), utc=True))
        .tz_convert(timezone)
        .tz_localize(None)
    )


def local_label(timezone: str) -> str:
    return f"participant's local time ({timezone})"
