"""Windows of local days that a sync fetches and loads as one unit, and the AIP-160 filter selecting one.

A data type's windows are aligned to its length counted from 1970-01-01 in the participant's zone,
so the same windows recur night after night (a re-fetched window replaces its manifest entry) and every
local day lies wholly inside one window (daily sums such as sleep minutes are never split).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fitpipe.google_health.datatypes import DataType

__all__ = ["Window", "local_midnight", "window_of", "windows_between", "days_window", "filter_for"]

_EPOCH = date(1970, 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day, in UTC (a midnight inside a DST gap is the instant the gap ends)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Window:
    data_type: DataType
    first_day: date
    end_day: date
    """Exclusive."""
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.end_day, self.zone)

    def path(self) -> str:
        """Its entry in the ingest_files manifest (one per participant, data type and window)."""
        return f"google_health/{self.data_type.name}/{self.first_day.isoformat()}_{self.end_day.isoformat()}"

    def fetch_end(self, now: datetime) -> datetime:
        return min(self.end, now)


def _local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def window_of(data_type: DataType, day: date, zone: ZoneInfo) -> Window:
    n = data_type.window_days
    first = _EPOCH + timedelta(days=((day - _EPOCH).days // n) * n)
    return Window(data_type, first, first + timedelta(days=n), zone)


def windows_between(data_type: DataType, start: datetime, end: datetime, zone: ZoneInfo) -> list[Window]:
    """The aligned windows covering [start, end), oldest first."""
    if end <= start:
        return []
    out = [window_of(data_type, _local_day(start, zone), zone)]
    while out[-1].end < end:
        out.append(window_of(data_type, out[-1].end_day, zone))
    return out


def days_window(data_type: DataType, start: datetime, end: datetime, zone: ZoneInfo) -> Window:
    """[start, end) widened to whole local days, as one window (a webhook's targeted pull)."""
    last = end - timedelta(microseconds=1)
    return Window(
        data_type, _local_day(start, zone), _local_day(max(last, start), zone) + timedelta(days=1), zone
    )


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def filter_for(window: Window, now: datetime | None = None) -> str:
    """The AIP-160 filter of a window: only `>=` and `<`, joined with AND, on the type's physical field."""
    path = window.data_type.filter_path
    if window.data_type.time == "date":
        return f'{path} >= "{window.first_day.isoformat()}" AND {path} < "{window.end_day.isoformat()}"'
    end = window.fetch_end(now) if now is not None else window.end
    return f'{path} >= "{_stamp(window.start)}" AND {path} < "{_stamp(end)}"'
