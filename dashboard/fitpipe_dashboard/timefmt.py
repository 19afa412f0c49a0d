"""Times as a trial manager reads them: relative ("3 h ago"), in the participant's own time zone, and the
API's UTC instants turned into local wall-clock times for the charts' axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

__all__ = ["hours_since", "utc_minutes", "ago", "to_local", "local_label"]


def hours_since(then: datetime | None, now: datetime) -> float | None:
    """Hours from `then` (an aware instant, as the API's models hold them) to `now`; None stays None."""
    return None if then is None else (now - then).total_seconds() / 3600


def utc_minutes(instant: datetime) -> str:
    """'2024-01-02 09:00': an instant to the minute in UTC (the page adds "UTC")."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


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


def to_local(instants: Sequence[datetime], timezone: str) -> pd.DatetimeIndex:
    """Instants (aware datetimes) as naive local wall-clock times of `timezone` (what
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
