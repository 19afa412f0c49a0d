"""Keeping rollup_1m / rollup_1h / rollup_1d exact, in the same transaction as each load.

Two ways, chosen per (participant, metric) batch by the loader:
- additive: every row of the batch was new (nothing stored in its time span), so the batch's own
  per-minute aggregates are computed in numpy and added to the stored buckets (count+, sum+, min, max);
- recompute: the batch merged into stored data (updates possible), so the touched hours are
  re-aggregated from the samples table.
Hours are UTC hours; days are the participant's local days (bucket = local midnight), always derived
in SQL with the same expression so both ways agree.

Only metrics sampled more often than once a minute (Metric.rollup_1m: heart rate) keep rows in rollup_1m;
for the others a sample already is a minute, so their hour and day rollups are built from the samples
grouped per minute (the same numbers rollup_1m would hold) and data_1m reads the samples.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import psycopg

from fitpipe.catalog import BY_ID
from fitpipe.localtime import datetime_to_us, us_to_datetime
from fitpipe.pgcopy import copy_rollups, rollup_rows

__all__ = ["minute_aggregates", "add_minute_aggregates", "recompute_ranges", "hour_ranges", "empty_staging"]

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000
ORIGIN = "2000-01-03T00:00:00+00"  # a Monday, UTC: date_bin's origin for minutes and hours

_LOCAL_DAY = "(date_trunc('day', {col} AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s)"

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS _fitpipe_roll1m (
    bucket timestamptz NOT NULL, sum double precision NOT NULL, min double precision NOT NULL,
    max double precision NOT NULL, participant_id integer NOT NULL, count integer NOT NULL,
    minutes integer NOT NULL, metric_id smallint NOT NULL
) ON COMMIT DELETE ROWS
"""

_ADD = """
INSERT INTO {table} AS r (bucket, sum, min, max, participant_id, count, minutes, metric_id)
SELECT {bucket} AS b, sum(sum), min(min), max(max), participant_id, sum(count), {minutes}, metric_id
FROM _fitpipe_roll1m GROUP BY b, participant_id, metric_id
ON CONFLICT (participant_id, metric_id, bucket) DO UPDATE SET
    count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum, minutes = {merge_minutes},
    min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max)
"""

_REPLACE_SET = """
ON CONFLICT (participant_id, metric_id, bucket) DO UPDATE SET
    count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max, minutes = EXCLUDED.minutes
"""

_RECOMPUTE_1M = (
    """
INSERT INTO rollup_1m (bucket, sum, min, max, participant_id, count, minutes, metric_id)
SELECT date_bin('1 minute', ts, %(origin)s) AS b, sum(value), min(value), max(value), participant_id, count(*), 1, metric_id
FROM samples
WHERE participant_id = %(p)s AND metric_id = %(m)s AND ts >= %(lo)s AND ts < %(hi)s
GROUP BY b, participant_id, metric_id
"""
    + _REPLACE_SET
)

# The minutes an hour or day is built from: rollup_1m rows, or (metrics without them) the samples grouped per
# minute. A minute bucket lies in [lo, hi) exactly when its samples lie in [lo, hi) rounded up to whole
# minutes, so both sources select the same minutes. The bounds are passed as values, not expressions, so
# TimescaleDB excludes the other chunks when it plans the statement.
_MINUTES_STORED = (
    "(SELECT * FROM rollup_1m WHERE participant_id = %(p)s AND metric_id = %(m)s"
    " AND bucket >= %({lo})s AND bucket < %({hi})s)"
)
_MINUTES_FROM_SAMPLES = (
    "(SELECT fitpipe_minute(ts) AS bucket, sum(value) AS sum, min(value) AS min,"
    " max(value) AS max, participant_id, count(*) AS count, metric_id FROM samples"
    " WHERE participant_id = %(p)s AND metric_id = %(m)s AND ts >= %({lo}_up)s AND ts < %({hi}_up)s"
    " GROUP BY 1, participant_id, metric_id)"
)


def _minutes(keep_1m: bool, lo: str, hi: str) -> str:
    return (_MINUTES_STORED if keep_1m else _MINUTES_FROM_SAMPLES).format(lo=lo, hi=hi)


def _minute_up(value: datetime) -> datetime:
    """The first whole UTC minute at or after `value`."""
    return us_to_datetime(-(-datetime_to_us(value) // US_PER_MINUTE) * US_PER_MINUTE)


_RECOMPUTE_1H = (
    """
INSERT INTO rollup_1h (bucket, sum, min, max, participant_id, count, minutes, metric_id)
SELECT date_bin('1 hour', bucket, %(origin)s) AS b, sum(sum), min(min), max(max), participant_id, sum(count), count(*), metric_id
FROM {minutes} r
GROUP BY b, participant_id, metric_id
"""
    + _REPLACE_SET
)

# The participant's local days [first, last] that [lo, hi) touches, as UTC instants of local midnights.
_DAY_SPAN = (
    "SELECT "
    + _LOCAL_DAY.format(col="%(lo)s::timestamptz")
    + ", (date_trunc('day', (%(hi)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s)"
    " + interval '1 day') AT TIME ZONE %(tz)s"
)

_RECOMPUTE_1D = (
    """
INSERT INTO rollup_1d (bucket, sum, min, max, participant_id, count, minutes, metric_id)
SELECT """
    + _LOCAL_DAY.format(col="r.bucket")
    + """ AS b, sum(r.sum), min(r.min), max(r.max), r.participant_id, sum(r.count), count(*), r.metric_id
FROM {minutes} r
GROUP BY b, r.participant_id, r.metric_id
"""
    + _REPLACE_SET
)


def minute_aggregates(ts_sorted: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, ...]:
    """(bucket_us, sum, min, max, count) per UTC minute of a sorted batch."""
    minutes = ts_sorted // US_PER_MINUTE
    starts = np.flatnonzero(np.concatenate(([True], minutes[1:] != minutes[:-1])))
    counts = np.diff(np.append(starts, ts_sorted.size)).astype(np.int32)
    return (
        minutes[starts] * US_PER_MINUTE,
        np.add.reduceat(value, starts),
        np.minimum.reduceat(value, starts),
        np.maximum.reduceat(value, starts),
        counts,
    )


def add_minute_aggregates(
    cur: psycopg.Cursor,
    participant_id: int,
    metric_id: int,
    timezone: str,
    ts_sorted: np.ndarray,
    value: np.ndarray,
) -> None:
    """Additive path: fold a batch of brand-new samples into the rollups (rollup_1m only for the metrics that keep it)."""
    keep_1m = BY_ID[metric_id].rollup_1m
    bucket, sums, mins, maxs, counts = minute_aggregates(ts_sorted, value)
    # Nothing was stored inside the batch's span, so only its first and last minute can already hold data
    # (samples just outside the span): those minutes are not new minutes for 1h/1d.
    fresh = np.ones(bucket.size, dtype=np.int32)
    edges = sorted({int(bucket[0]), int(bucket[-1])})
    if keep_1m:
        existing = {
            datetime_to_us(r[0])
            for r in cur.execute(
                "SELECT bucket FROM rollup_1m WHERE participant_id = %s AND metric_id = %s AND bucket = ANY(%s)",
                (participant_id, metric_id, [us_to_datetime(e) for e in edges]),
            ).fetchall()
        }
    else:
        existing = _minutes_with_samples_outside(
            cur,
            participant_id,
            metric_id,
            int(bucket[0]),
            int(bucket[-1]),
            int(ts_sorted[0]),
            int(ts_sorted[-1]),
        )
    if existing:
        fresh[np.isin(bucket, np.array(sorted(existing), dtype=np.int64))] = 0
    cur.execute(_STAGE_DDL)
    cur.execute("DELETE FROM _fitpipe_roll1m")
    copy_rollups(
        cur,
        "_fitpipe_roll1m",
        [rollup_rows(bucket, sums, mins, maxs, counts, fresh, participant_id, metric_id)],
    )
    if keep_1m:
        cur.execute(_ADD.format(table="rollup_1m", bucket="bucket", minutes="1", merge_minutes="1"))
    new_minutes = dict(minutes="sum(minutes)", merge_minutes="r.minutes + EXCLUDED.minutes")
    cur.execute(
        _ADD.format(table="rollup_1h", bucket="date_bin('1 hour', bucket, %(origin)s)", **new_minutes),
        {"origin": ORIGIN},
    )
    cur.execute(
        _ADD.format(table="rollup_1d", bucket=_LOCAL_DAY.format(col="bucket"), **new_minutes),
        {"tz": timezone},
    )


def _minutes_with_samples_outside(
    cur: psycopg.Cursor, participant_id: int, metric_id: int, first: int, last: int, lo: int, hi: int
) -> set[int]:
    """Of the batch's first and last minute, those that already hold samples outside the batch's [lo, hi]
    (the batch itself was just written, so it must not count)."""
    row = cur.execute(
        """SELECT EXISTS (SELECT 1 FROM samples WHERE participant_id = %(p)s AND metric_id = %(m)s
                          AND ts >= %(first)s AND ts < %(lo)s),
                  EXISTS (SELECT 1 FROM samples WHERE participant_id = %(p)s AND metric_id = %(m)s
                          AND ts > %(hi)s AND ts < %(end)s)""",
        {
            "p": participant_id,
            "m": metric_id,
            "first": us_to_datetime(first),
            "lo": us_to_datetime(lo),
            "hi": us_to_datetime(hi),
            "end": us_to_datetime(last + US_PER_MINUTE),
        },
    ).fetchone()
    assert row is not None
    return {edge for edge, held in ((first, row[0]), (last, row[1])) if held}


def empty_staging(cur: psycopg.Cursor) -> None:
    """Drop the dead rows the staging table piles up in one long transaction (a file streamed in pieces):
    DELETE leaves them for every later batch to scan again. TRUNCATE costs more per call, so only now and then."""
    cur.execute(_STAGE_DDL)
    cur.execute("TRUNCATE _fitpipe_roll1m")


def hour_ranges(hours_us: np.ndarray) -> list[tuple[int, int]]:
    """Merge touched UTC hours (start microseconds, any order) into [lo, hi) ranges of consecutive hours."""
    if hours_us.size == 0:
        return []
    hours = np.unique(hours_us // US_PER_HOUR)
    breaks = np.flatnonzero(np.diff(hours) != 1)
    starts = np.concatenate(([hours[0]], hours[breaks + 1]))
    ends = np.concatenate((hours[breaks], [hours[-1]])) + 1
    return [(int(a) * US_PER_HOUR, int(b) * US_PER_HOUR) for a, b in zip(starts, ends, strict=True)]


def recompute_ranges(
    cur: psycopg.Cursor, participant_id: int, metric_id: int, timezone: str, ranges: list[tuple[int, int]]
) -> None:
    """Recompute path: re-aggregate the given [lo, hi) microsecond ranges (hour aligned) from samples."""
    keep_1m = BY_ID[metric_id].rollup_1m
    recompute_1h = _RECOMPUTE_1H.format(minutes=_minutes(keep_1m, "lo", "hi"))
    recompute_1d = _RECOMPUTE_1D.format(minutes=_minutes(keep_1m, "day_lo", "day_hi"))
    for lo, hi in ranges:
        params: dict[str, object] = {
            "p": participant_id,
            "m": metric_id,
            "lo": us_to_datetime(lo),
            "hi": us_to_datetime(hi),
            "tz": timezone,
            "origin": ORIGIN,
        }
        params["lo_up"], params["hi_up"] = params["lo"], params["hi"]  # whole hours are whole minutes
        if keep_1m:
            cur.execute(_RECOMPUTE_1M, params)
        cur.execute(recompute_1h, params)
        days = cur.execute(_DAY_SPAN, params).fetchone()
        assert days is not None
        params["day_lo"], params["day_hi"] = days
        params["day_lo_up"], params["day_hi_up"] = _minute_up(days[0]), _minute_up(days[1])
        cur.execute(recompute_1d, params)
