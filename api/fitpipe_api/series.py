"""The time-series read flow: plan each series once (span, granularity, point count), then fetch columnar arrays.

granularity=auto picks the finest of raw / 1m / 1h / 1d whose point count for the span stays within
the point budget (default 2,000 per series), so a year loads as fast as a day. Spans given as dates
are the participant's local days (end date inclusive); date-times without an offset are UTC.

Whatever a client names is clamped to [EARLIEST, LATEST] (dates to [FIRST_DAY, LAST_DAY]): no wearable data
lies outside, and every step after it (local midnights, the 7-day default, time-zone conversions) stays
inside what Python and PostgreSQL can hold. So `start_date=0001-01-01&end_date=9999-12-31` reads everything
instead of overflowing, and the answer's `start`/`end` say which span was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import numpy as np
import psycopg

from fitpipe.catalog import Metric
from fitpipe.errors import InputError
from fitpipe.participants import Participant
from fitpipe_api.queries.timeseries import Span, point_counts, read_all, stream_raw, stream_rollup

__all__ = [
    "Granularity",
    "Series",
    "SeriesPlan",
    "plan_series",
    "resolve_span",
    "choose_granularity",
    "fetch_series",
    "parse_when",
    "align_span",
    "ORDER",
    "EARLIEST",
    "LATEST",
    "FIRST_DAY",
    "LAST_DAY",
    "clamp_day",
]

Granularity = Literal["raw", "1m", "1h", "1d"]
ORDER: tuple[Granularity, ...] = ("raw", "1m", "1h", "1d")
DEFAULT_SPAN = timedelta(days=7)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
FIRST_DAY = EARLIEST.date()
LAST_DAY = LATEST.date() - timedelta(days=1)


def clamp_day(day: date) -> date:
    return min(max(day, FIRST_DAY), LAST_DAY)


def _clamp(when: datetime) -> datetime:
    # aware datetimes compare without converting, so this cannot overflow even for year 1 at +23:59
    return EARLIEST if when < EARLIEST else LATEST if when > LATEST else when


@dataclass
class Series:
    participant: Participant
    metric: Metric
    span: Span
    granularity: Granularity
    t: np.ndarray
    """int64 µs since the epoch (UTC)."""
    v: np.ndarray
    imputed: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    """min/max/count (and sum for sum-type metrics) at aggregated granularities; lo/hi for imputed points."""

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "user_id": self.participant.external_id,
            "study": self.participant.study,
            "metric": self.metric.name,
            "unit": self.metric.unit,
            "aggregation": self.metric.aggregation,
            "timezone": self.participant.timezone,
            "granularity": self.granularity,
            "start": self.span.start,
            "end": self.span.end,
            "points": int(self.t.size),
            "imputed_points": int(self.imputed.sum()),
            "t": self.t.astype("datetime64[us]"),
            "v": self.v,
            "imputed": self.imputed,
        }
        body.update(self.extra)
        return body


def parse_when(value: str, name: str) -> date | datetime:
    """A date (YYYY-MM-DD) or an ISO 8601 date-time (naive means UTC)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return clamp_day(date.fromisoformat(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise InputError(
            f"{shown!r} is not a date or date-time",
            field=name,
            hint="send YYYY-MM-DD (the participant's local day) or an ISO 8601 date-time such as 2024-01-31T12:00:00Z",
        ) from None
    # in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (+23:59)
    return _clamp(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _local_midnight(day: date, participant: Participant) -> datetime:
    return datetime.combine(day, time(0), tzinfo=participant.zone).astimezone(UTC)


def _latest(conn: psycopg.Connection, participant: Participant, metric: Metric) -> datetime | None:
    row = conn.execute(
        "SELECT max(last_value) FROM ingest_cursors WHERE participant_id = %s AND metric_id = %s",
        (participant.id, metric.id),
    ).fetchone()
    return row[0] if row else None


def resolve_span(
    conn: psycopg.Connection,
    participant: Participant,
    metric: Metric,
    start: date | datetime | None,
    end: date | datetime | None,
) -> Span:
    """Fallbacks: no end → just after the latest sample (now when there is none); no start → 7 days before end."""
    if end is None:
        latest = _latest(conn, participant, metric)
        end_dt = (latest + timedelta(microseconds=1)) if latest else datetime.now(UTC)
    elif isinstance(end, datetime):
        end_dt = end
    else:
        end_dt = _local_midnight(end + timedelta(days=1), participant)
    if start is None:
        start_dt = end_dt - DEFAULT_SPAN
    elif isinstance(start, datetime):
        start_dt = start
    else:
        start_dt = _local_midnight(start, participant)
    if start_dt >= end_dt:
        raise InputError(
            f"start ({start_dt.isoformat()}) is not before end ({end_dt.isoformat()})",
            field="start_date",
            hint="send start_date earlier than end_date (end_date as a date is inclusive)",
        )
    return Span(participant.id, metric.id, start_dt, end_dt)


def choose_granularity(counts: dict[str, int], budget: int) -> Granularity:
    for g in ORDER:
        if counts[g] <= budget:
            return g
    return "1d"


def align_span(span: Span, granularity: Granularity, participant: Participant) -> Span:
    """Widen the span to whole buckets so the first and last bucket are complete."""
    if granularity == "1d":
        local = span.start.astimezone(participant.zone).date()
        start = _local_midnight(local, participant)
    elif granularity == "1h":
        start = span.start.replace(minute=0, second=0, microsecond=0)
    elif granularity == "1m":
        start = span.start.replace(second=0, microsecond=0)
    else:
        start = span.start
    return Span(span.participant_id, span.metric_id, start, span.end)


@dataclass(frozen=True)
class SeriesPlan:
    """One series of an answer, planned once and passed down: who and what, the span widened to whole buckets
    of the granularity chosen, and how many raw points the span holds when that was counted."""

    participant: Participant
    metric: Metric
    span: Span
    granularity: Granularity
    raw_points: int | None
    """Samples in the span when the granularity is raw and they were counted (auto, or asked for); else None."""


def plan_series(
    conn: psycopg.Connection,
    participant: Participant,
    metric: Metric,
    start: date | datetime | None,
    end: date | datetime | None,
    granularity: Granularity | Literal["auto"],
    budget: int,
    *,
    count_raw: bool = False,
) -> SeriesPlan:
    """Resolve the span, count the points once (for auto, or for a raw series when `count_raw`), choose the
    granularity and align the span to it."""
    span = resolve_span(conn, participant, metric, start, end)
    chosen: Granularity
    counts: dict[str, int] | None
    if granularity == "auto":
        counts = point_counts(conn, span)
        chosen = choose_granularity(counts, budget)
    else:
        counts = point_counts(conn, span) if count_raw and granularity == "raw" else None
        chosen = granularity
    raw_points = counts["raw"] if counts is not None and chosen == "raw" else None
    return SeriesPlan(participant, metric, align_span(span, chosen, participant), chosen, raw_points)


def fetch_series(conn: psycopg.Connection, plan: SeriesPlan) -> Series:
    """The planned series: raw samples, or the rollup's buckets with min/max/count (and sum for sums)."""
    participant, metric, span, chosen = plan.participant, plan.metric, plan.span, plan.granularity
    if chosen == "raw":
        parts = list(stream_raw(conn, span))
        t = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        v = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.float64)
        return Series(participant, metric, span, chosen, t, v, np.zeros(t.size, dtype=bool))
    agg = read_all(stream_rollup(conn, span, chosen))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = agg["sum"] / agg["count"]
    extra = {"min": agg["min"], "max": agg["max"], "count": agg["count"]}
    if metric.aggregation == "sum":
        extra["sum"] = agg["sum"]
    return Series(
        participant, metric, span, chosen, agg["t"], mean, np.zeros(agg["t"].size, dtype=bool), extra
    )
