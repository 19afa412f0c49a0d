"""The adherence SQL: per participant the enrolment window, wear totals and flag inputs; per local day the wear,
step and sleep figures. Everything is read from the rollups (never raw samples), one statement per study.

Days are the participant's local calendar days; a day's instants are [local midnight, next local midnight),
computed in SQL with `day::timestamp AT TIME ZONE tz`, the same expression the loader uses for rollup_1d
buckets, so a DST day has 1,380 or 1,500 minutes. Valid hours come from rollup_1h (UTC hours): an hour
belongs to the local day it starts in, exact for every zone whose offset is a whole number of hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import class_row

from fitpipe.adherence_rules import AdherenceRules
from fitpipe.catalog import BY_NAME
from fitpipe_api.queries.timeseries import copy_rows  # the binary COPY reader of the time series

__all__ = [
    "WindowSummary",
    "DayColumns",
    "DAY_FIELDS",
    "read_summaries",
    "read_days",
    "DEFAULT_DAYS",
    "MAX_DAYS",
]

HEART_RATE = BY_NAME["heart_rate"].id
STEPS = BY_NAME["steps"].id
DEFAULT_DAYS = 30
"""Days returned when the request names no start_date (ending at end_date or the window's last day)."""
MAX_DAYS = 366
"""The most days one request returns per participant."""

# The window of each participant of a study, as local dates [first_day, last_day]: the enrolment to date,
# cut to the requested days. Every overall figure (enrolled minutes, wear, valid days, nights) is over it.
# enrolled_since: the local date of enrolment_start, else of the first heart-rate sample (None: neither);
# first_day: the later of enrolled_since and start_date (None without enrolled_since);
# last_day: the earliest of yesterday in the participant's zone (today is not over), the local date
#           enrolment ended, and end_date.
_WINDOWS = """
WITH p AS (
    SELECT p.id, p.external_id, p.timezone AS tz, p.status, p.enrolment_start, p.enrolment_end, p.created_at,
           (%(now)s::timestamptz AT TIME ZONE p.timezone)::date AS today
    FROM participants p
    WHERE p.study_id = %(study)s AND (%(pids)s::int[] IS NULL OR p.id = ANY(%(pids)s::int[]))
), e AS MATERIALIZED (  -- once: the subquery must not run again wherever enrolled_since is used
    SELECT p.*,
           coalesce((p.enrolment_start AT TIME ZONE p.tz)::date,
                    (SELECT (min(r.bucket) AT TIME ZONE p.tz)::date FROM rollup_1d r
                     WHERE r.participant_id = p.id AND r.metric_id = {hr})) AS enrolled_since
    FROM p
), w AS (
    SELECT e.*,
           -- greatest()/least() skip NULLs: no start_date or end_date means no bound on that side
           CASE WHEN e.enrolled_since IS NOT NULL THEN greatest(e.enrolled_since, %(start)s::date) END AS first_day,
           least(e.today - 1, ((e.enrolment_end - interval '1 microsecond') AT TIME ZONE e.tz)::date,
                 %(end)s::date) AS last_day
    FROM e
)
"""

_SUMMARY = (
    _WINDOWS
    + """
SELECT w.id AS participant_id, w.external_id AS user_id, w.tz AS timezone, w.status, w.created_at,
       w.enrolment_start, w.enrolment_end, w.enrolled_since, w.first_day, w.last_day,
       CASE WHEN w.first_day <= w.last_day THEN
           (extract(epoch FROM ((w.last_day + 1)::timestamp AT TIME ZONE w.tz)
                               - (w.first_day::timestamp AT TIME ZONE w.tz)) / 60)::bigint
       END AS enrolled_minutes,
       CASE WHEN w.first_day <= w.last_day THEN w.last_day - w.first_day + 1 ELSE 0 END AS enrolled_days,
       coalesce(hr.wear_minutes, 0) AS wear_minutes, coalesce(hr.valid_days, 0) AS valid_days,
       c.newest AS latest_sample, ps.last_sync, coalesce(ps.sources, '[]'::jsonb) AS sources,
       CASE WHEN w.first_day <= w.last_day
            THEN w.last_day - greatest(w.first_day, w.last_day - %(m)s + 1) + 1 ELSE 0 END AS nights_considered,
       coalesce(sl.nights, 0) AS nights_recorded, ct.last_contacted
FROM w
LEFT JOIN LATERAL (
    SELECT sum(r.minutes)::bigint AS wear_minutes, count(*) FILTER (WHERE r.minutes >= %(valid_day)s) AS valid_days
    FROM rollup_1d r
    WHERE r.participant_id = w.id AND r.metric_id = {hr} AND w.first_day <= w.last_day
      AND r.bucket >= (w.first_day::timestamp AT TIME ZONE w.tz)
      AND r.bucket < ((w.last_day + 1)::timestamp AT TIME ZONE w.tz)
) hr ON true
LEFT JOIN LATERAL (SELECT max(last_value) AS newest FROM ingest_cursors WHERE participant_id = w.id) c ON true
LEFT JOIN LATERAL (
    SELECT max(last_success_at) AS last_sync,
           jsonb_agg(jsonb_build_object('source', source, 'status', status, 'configured_at', configured_at,
                                        'last_attempt_at', last_attempt_at, 'last_success_at', last_success_at,
                                        'last_error', last_error) ORDER BY source) AS sources
    FROM participant_sources WHERE participant_id = w.id
) ps ON true
LEFT JOIN LATERAL (
    SELECT count(DISTINCT s.local_date) AS nights
    FROM sleep_sessions s
    WHERE s.participant_id = w.id AND s.is_main_sleep AND w.first_day <= w.last_day
      AND s.local_date BETWEEN greatest(w.first_day, w.last_day - %(m)s + 1) AND w.last_day
      {sleep_filter}
) sl ON true
LEFT JOIN LATERAL (
    SELECT max(sent_at) AS last_contacted FROM contacts WHERE participant_id = w.id AND status = 'sent'
) ct ON true
ORDER BY w.external_id
"""
)

# The requested days of each participant, clipped to the enrolment window. Defaults: end_date → the
# window's last day; start_date → DEFAULT_DAYS days before the end.
_DAYS = (
    _WINDOWS
    + """
, r AS (
    SELECT w.id, w.tz,
           greatest(w.first_day, coalesce(%(start)s::date, coalesce(%(end)s::date, w.last_day) - %(default_days)s + 1),
                    least(w.last_day, coalesce(%(end)s::date, w.last_day)) - %(max_days)s + 1) AS lo,
           least(w.last_day, coalesce(%(end)s::date, w.last_day)) AS hi
    FROM w WHERE w.first_day IS NOT NULL  -- greatest() would skip a NULL first day
), s0 AS (
    SELECT r.id, r.tz, r.lo, r.hi, r.lo::timestamp AT TIME ZONE r.tz AS t0, (r.hi + 1)::timestamp AT TIME ZONE r.tz AS t1
    FROM r WHERE r.lo <= r.hi
), d AS (
    SELECT s0.id, g::date AS day, g AT TIME ZONE s0.tz AS t0, (g + interval '1 day') AT TIME ZONE s0.tz AS t1
    FROM s0, generate_series(s0.lo::timestamp, s0.hi::timestamp, interval '1 day') AS g
), span AS (
    -- Per participant the requested instants [t0, t1) and, when exactly one day of them is not 24 h long
    -- (a DST change), that day's [dst_t0, dst_t1).
    SELECT s0.*, coalesce(x.dst_days, 0) AS dst_days, x.dst_t0, x.dst_t1
    FROM s0 LEFT JOIN (
        SELECT d.id, count(*) AS dst_days, min(d.t0) AS dst_t0, min(d.t1) AS dst_t1
        FROM d WHERE d.t1 - d.t0 <> interval '24 hours' GROUP BY d.id
    ) AS x ON x.id = s0.id
), hours AS (
    -- The local day of an hour without a time-zone conversion per row: days before the DST day start
    -- whole days after the span's first midnight, days after it whole days before its last one. Spans
    -- with two or more DST days (longer than a few months) convert each hour.
    SELECT span.id, v.t0, v.n
    FROM span, LATERAL (
        SELECT CASE WHEN span.dst_days = 0 OR h.bucket < span.dst_t0 THEN date_bin('1 day', h.bucket, span.t0)
                    WHEN h.bucket < span.dst_t1 THEN span.dst_t0
                    ELSE date_bin('1 day', h.bucket, span.t1) END AS t0,
               count(*) AS n
        FROM rollup_1h h
        WHERE h.participant_id = span.id AND h.metric_id = {hr} AND h.bucket >= span.t0 AND h.bucket < span.t1
          AND h.minutes >= %(valid_hour)s
        GROUP BY 1
    ) AS v
    WHERE span.dst_days <= 1 AND %(with_hours)s
    UNION ALL
    SELECT span.id, v.t0, v.n
    FROM span, LATERAL (
        SELECT date_trunc('day', h.bucket AT TIME ZONE span.tz) AT TIME ZONE span.tz AS t0, count(*) AS n
        FROM rollup_1h h
        WHERE h.participant_id = span.id AND h.metric_id = {hr} AND h.bucket >= span.t0 AND h.bucket < span.t1
          AND h.minutes >= %(valid_hour)s
        GROUP BY 1
    ) AS v
    WHERE span.dst_days > 1 AND %(with_hours)s
), wear AS (
    SELECT span.id, r.bucket, r.minutes
    FROM span JOIN rollup_1d r ON r.participant_id = span.id AND r.metric_id = {hr}
                              AND r.bucket >= span.t0 AND r.bucket < span.t1
), steps AS (
    SELECT span.id, r.bucket, r.sum
    FROM span JOIN rollup_1d r ON r.participant_id = span.id AND r.metric_id = {steps}
                              AND r.bucket >= span.t0 AND r.bucket < span.t1
), nights AS (
    SELECT DISTINCT s.participant_id, s.local_date
    FROM span JOIN sleep_sessions s ON s.participant_id = span.id AND s.local_date BETWEEN span.lo AND span.hi
    WHERE s.is_main_sleep {sleep_filter}
)
SELECT d.id, d.day, coalesce(wear.minutes, 0) AS wear_minutes, x.day_minutes,
       round(100.0 * coalesce(wear.minutes, 0) / x.day_minutes, 2)::float8 AS wear_pct,
       coalesce(wear.minutes, 0) >= %(valid_day)s AS valid_day, coalesce(hours.n, 0)::int AS valid_hours,  -- 0 also when not asked for
       coalesce(round(steps.sum)::bigint, -1) AS steps,  -- -1: no step data (binary COPY rows are fixed-width)
       nights.local_date IS NOT NULL AS sleep_recorded
FROM d
CROSS JOIN LATERAL (SELECT (extract(epoch FROM d.t1 - d.t0) / 60)::int AS day_minutes) AS x
LEFT JOIN wear ON wear.id = d.id AND wear.bucket = d.t0
LEFT JOIN steps ON steps.id = d.id AND steps.bucket = d.t0
LEFT JOIN hours ON hours.id = d.id AND hours.t0 = d.t0
LEFT JOIN nights ON nights.participant_id = d.id AND nights.local_date = d.day
ORDER BY d.id, d.day
"""
)

# Nights count with a main sleep; a minimum duration, when a study sets one, needs the session row
# (without it the partial index sleep_sessions_main_nights answers alone).
_SLEEP_FILTER = (
    "AND coalesce(s.minutes_asleep, extract(epoch FROM s.end_time - s.start_time) / 60) >= %(min_sleep)s"
)


def _statement(template: str, rules: AdherenceRules) -> str:
    return template.format(
        hr=HEART_RATE, steps=STEPS, sleep_filter=_SLEEP_FILTER if rules.min_sleep_minutes else ""
    )


@dataclass(frozen=True)
class WindowSummary:
    """One participant's enrolment window to date, wear totals and what the flags look at."""

    participant_id: int
    user_id: str
    timezone: str
    status: str
    created_at: datetime
    enrolment_start: datetime | None
    enrolment_end: datetime | None
    enrolled_since: date | None
    """Local date of enrolment_start, else of the first heart-rate sample; None: neither (yet)."""
    first_day: date | None
    """First local day of the window: enrolled_since, or start_date when that is later."""
    last_day: date | None
    """Last local day of the window: yesterday, the day enrolment ended, or end_date, whichever is earliest."""
    enrolled_minutes: int | None
    """Minutes of the local days [first_day, last_day] (DST days counted as they are); None: no day."""
    enrolled_days: int
    wear_minutes: int
    valid_days: int
    latest_sample: datetime | None
    """Newest sample of any metric from any source (ingest_cursors.last_value)."""
    last_sync: datetime | None
    """Newest successful sync of any source (participant_sources.last_success_at)."""
    sources: list[dict[str, Any]]
    nights_considered: int
    """How many of the window's last M nights lie inside it (M = sleep_window_nights)."""
    nights_recorded: int
    last_contacted: datetime | None


DAY_FIELDS = (
    "date",
    "wear_minutes",
    "day_minutes",
    "wear_pct",
    "valid_day",
    "valid_hours",
    "steps",
    "low_steps",
    "sleep_recorded",
)
"""The per-day columns, in the order read_days returns them (steps and low_steps are null without step data)."""

DayColumns = dict[str, Any]
"""One participant's days: field name → one value per local day, ascending by date (numpy arrays, or lists
where a value may be null: steps, low_steps; date as YYYY-MM-DD strings)."""

_DAY_ROW = np.dtype(
    [
        ("n", ">i2"),
        ("l0", ">i4"),
        ("id", ">i4"),
        ("l1", ">i4"),
        ("day", ">i4"),
        ("l2", ">i4"),
        ("wear_minutes", ">i4"),
        ("l3", ">i4"),
        ("day_minutes", ">i4"),
        ("l4", ">i4"),
        ("wear_pct", ">f8"),
        ("l5", ">i4"),
        ("valid_day", "?"),
        ("l6", ">i4"),
        ("valid_hours", ">i4"),
        ("l7", ">i4"),
        ("steps", ">i8"),
        ("l8", ">i4"),
        ("sleep_recorded", "?"),
    ]
)
"""A row of _DAYS in COPY's binary format (field count, then length and value of each column)."""
_PG_EPOCH_DAY = np.datetime64("2000-01-01", "D")


def _params(
    study_id: int,
    rules: AdherenceRules,
    now: datetime | None,
    participant_ids: Sequence[int] | None,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "study": study_id,
        "now": now or datetime.now(UTC),
        "pids": list(participant_ids) if participant_ids is not None else None,
        "m": rules.sleep_window_nights,
        "min_sleep": rules.min_sleep_minutes,
        "valid_day": rules.valid_day_minutes,
        "valid_hour": rules.valid_hour_minutes,
        "low_steps": rules.low_steps,
    }


def read_summaries(
    conn: psycopg.Connection,
    study_id: int,
    rules: AdherenceRules,
    *,
    now: datetime | None = None,
    participant_ids: Sequence[int] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[WindowSummary]:
    """Every participant of the study (or the given ones), ordered by user_id, over their enrolment to date
    cut to [start, end] (local days, both inclusive, None: unbounded). `now`: for reproducible reports."""
    with conn.cursor(row_factory=class_row(WindowSummary)) as cur:
        return cur.execute(
            _statement(_SUMMARY, rules), _params(study_id, rules, now, participant_ids, start, end)
        ).fetchall()


def read_days(
    conn: psycopg.Connection,
    study_id: int,
    rules: AdherenceRules,
    *,
    start: date | None,
    end: date | None,
    now: datetime | None = None,
    participant_ids: Sequence[int] | None = None,
    valid_hours: bool = True,
) -> dict[int, DayColumns]:
    """participants.id → its days in [start, end] ∩ enrolment window (participants with no such day are absent).

    valid_hours=False leaves that column None and skips reading rollup_1h, which is most of the cost for a
    whole study (every heart-rate hour of the span: 720,000 index entries for 1,000 participants × 30 days).
    """
    params = _params(study_id, rules, now, participant_ids, start, end) | {
        "default_days": DEFAULT_DAYS,
        "max_days": MAX_DAYS,
        "with_hours": valid_hours,
    }
    # Binary COPY decoded by numpy, so the columns serialise straight to JSON (orjson) without a Python
    # object per value.
    chunks = list(copy_rows(conn, _statement(_DAYS, rules), params, _DAY_ROW, chunk_rows=100_000))
    rows = np.concatenate(chunks) if chunks else np.empty(0, _DAY_ROW)
    if rows.size == 0:
        return {}
    dates = np.datetime_as_string(_PG_EPOCH_DAY + rows["day"].astype("timedelta64[D]"), unit="D").tolist()
    steps = rows["steps"].astype(np.int64)
    has_steps = steps >= 0
    low = steps < rules.low_steps
    steps_out = [int(v) if ok else None for v, ok in zip(steps.tolist(), has_steps.tolist(), strict=True)]
    low_out = [bool(v) if ok else None for v, ok in zip(low.tolist(), has_steps.tolist(), strict=True)]
    columns: dict[str, Any] = {
        "date": dates,
        "wear_minutes": rows["wear_minutes"].astype(np.int32),
        "day_minutes": rows["day_minutes"].astype(np.int32),
        "wear_pct": rows["wear_pct"].astype(np.float64),
        "valid_day": rows["valid_day"].copy(),
        "valid_hours": rows["valid_hours"].astype(np.int32) if valid_hours else None,
        "steps": steps_out,
        "low_steps": low_out,
        "sleep_recorded": rows["sleep_recorded"].copy(),
    }
    # Rows come ordered by participant: cut each participant's slice of every column.
    ids = rows["id"].astype(np.int64)
    cuts = np.flatnonzero(np.diff(ids)) + 1
    starts, ends = np.concatenate(([0], cuts)), np.concatenate((cuts, [ids.size]))
    return {
        int(ids[a]): {name: None if columns[name] is None else columns[name][a:b] for name in DAY_FIELDS}
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    }
