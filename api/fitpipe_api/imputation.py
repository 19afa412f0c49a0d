"""Query-time imputation of a series (impute=auto). The method lives in fitpipe.imputation; this module reads
the participant's minutes and steps, runs it, and folds the result into the series the route returns.

What each granularity gets (docs/imputation.md):
- 1m: observed minutes exactly as stored plus the imputed minutes (imputed=True) with `lo`/`hi` (95 %
  prediction interval; null for observed minutes); imputed minutes have count 0 and no min/max.
- 1h, 1d: each bucket's `v` includes its imputed minutes (every minute weighs the same; the observed minutes
  keep their stored mean), `v_observed` is the observed-only mean (what impute=none returns), and
  `imputed_minutes` says how many minutes were filled; imputed=True marks buckets holding any. An hour
  with only imputed minutes appears (count 0, v_observed null).
- raw: returned untouched. Imputation works on minute means; 1-s samples are never invented.
Every imputed granularity also lists the gaps left empty: `empty_gap_start`, `empty_gap_minutes` and
`empty_gap_reason` (an index into REASONS: 1 no observed edge in reach, 2 non-wear, 3 longer than the
maximum gap). Only heart rate is imputed (IMPUTABLE); other metrics come back unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from fitpipe.catalog import get_metric
from fitpipe.errors import InputError
from fitpipe.imputation import (
    MINUTE_US,
    REASONS,
    ImputationOptions,
    ImputedMinutes,
    fit_model,
    impute_minutes,
)
from fitpipe.imputation.profile import local_minutes
from fitpipe.localtime import datetime_to_us
from fitpipe_api.queries.timeseries import Span, read_all, stream_rollup
from fitpipe_api.series import Series

__all__ = ["impute_series", "IMPUTABLE", "HISTORY", "MAX_SPAN", "REASONS"]

IMPUTABLE = frozenset({"heart_rate"})
"""Metrics imputed. Heart rate is measured all day, so a short hole in it is a hole in a continuous signal.
Not imputed: sum metrics (steps, calories, zone minutes: a missing minute is zero or not worn, and inventing
it would change totals); spo2, hrv_* and oxygen_variation (measured only in sleep: their gaps are mostly
the day); daily metrics (one value a day: nothing at minute level to bridge)."""
HISTORY = timedelta(days=28)
"""The participant's own minutes before the span's end that the model (daily profile, steps, AR(1)) learns from."""
MAX_SPAN = timedelta(days=92)
"""Longest span imputed in one request, which keeps the minute reads bounded (~175,000 rows)."""
OPTIONS = ImputationOptions()
_STEPS = get_metric("steps")


def impute_series(conn: psycopg.Connection, series: Series) -> Series:
    if series.metric.name not in IMPUTABLE or series.granularity == "raw":
        return series
    span = series.span
    if span.end - span.start > MAX_SPAN:
        raise InputError(
            f"impute=auto covers at most {MAX_SPAN.days} days per request, not {(span.end - span.start).days}",
            field="impute",
            hint=f"ask for {MAX_SPAN.days} days or fewer at a time, or use impute=none",
        )
    result = _impute_minutes(conn, series)
    if result is None:
        return series
    gaps = _empty_gaps(result)
    if series.granularity == "1m":
        return _at_minutes(series, result, gaps)
    return _in_buckets(series, result, gaps)


def _read_minutes(
    conn: psycopg.Connection, participant_id: int, metric_id: int, start: datetime, end: datetime
) -> dict[str, np.ndarray]:
    return read_all(stream_rollup(conn, Span(participant_id, metric_id, start, end), "1m"))


def _impute_minutes(conn: psycopg.Connection, series: Series) -> ImputedMinutes | None:
    """Two reads (heart-rate minutes, step minutes), both over the 28 days before the span's end (or the span,
    when longer) plus a max-gap of context on each side, so gaps crossing the span's ends keep their edges."""
    span, participant = series.span, series.participant
    context = timedelta(minutes=OPTIONS.max_gap_minutes + 1)
    lo = min(span.start, span.end - HISTORY) - context
    hi = span.end + context
    hr = _read_minutes(conn, participant.id, series.metric.id, lo, hi)
    if hr["t"].size == 0:
        return None
    steps = _read_minutes(conn, participant.id, _STEPS.id, lo, hi)
    mean = hr["sum"] / hr["count"]
    steps_t, steps_v = (steps["t"], steps["sum"]) if steps["t"].size else (None, None)
    model = fit_model(hr["t"], mean, participant.timezone, steps_t, steps_v, OPTIONS)
    return impute_minutes(
        hr["t"],
        mean,
        model,
        start=datetime_to_us(span.start),
        end=datetime_to_us(span.end),
        steps_t=steps_t,
        steps_v=steps_v,
        options=OPTIONS,
    )


def _empty_gaps(result: ImputedMinutes) -> dict[str, np.ndarray]:
    empty = result.empty_gaps
    return {
        "empty_gap_start": np.array([g.start for g in empty], dtype=np.int64).astype("datetime64[us]"),
        "empty_gap_minutes": np.array([g.minutes for g in empty], dtype=np.int64),
        "empty_gap_reason": np.array([REASONS.index(g.reason) for g in empty], dtype=np.int64),
    }


def _at_minutes(series: Series, result: ImputedMinutes, gaps: dict[str, np.ndarray]) -> Series:
    """The stored minutes untouched, the imputed ones merged in by time."""
    new = result.imputed & ~np.isin(result.t, series.t)
    t = np.concatenate([series.t, result.t[new]])
    order = np.argsort(t, kind="stable")
    n_new = int(new.sum())

    def merged(observed: np.ndarray, filled: np.ndarray) -> np.ndarray:
        return np.concatenate([observed, filled])[order]

    nan = np.full(n_new, np.nan)
    empty = np.full(series.t.size, np.nan)
    extra = {
        "min": merged(series.extra["min"], nan),
        "max": merged(series.extra["max"], nan),
        "count": merged(series.extra["count"], np.zeros(n_new, dtype=np.int64)),
        "lo": merged(empty, result.lo[new]),
        "hi": merged(empty, result.hi[new]),
        **gaps,
    }
    imputed = merged(np.zeros(series.t.size, dtype=bool), np.ones(n_new, dtype=bool))
    return replace(series, t=t[order], v=merged(series.v, result.v[new]), imputed=imputed, extra=extra)


def _bucket_keys(t_us: np.ndarray, granularity: str, timezone: str) -> np.ndarray:
    """Hour number (UTC hours) or local day number: the rollup's buckets."""
    if granularity == "1h":
        return t_us // (60 * MINUTE_US)
    return local_minutes(t_us, timezone)[1]


def _bucket_start(key: int, granularity: str, timezone: str) -> int:
    if granularity == "1h":
        return key * 60 * MINUTE_US
    midnight = pd.Timestamp(key, unit="D").tz_localize(timezone, ambiguous=False, nonexistent="shift_forward")
    return int(midnight.as_unit("us").value)


def _in_buckets(series: Series, result: ImputedMinutes, gaps: dict[str, np.ndarray]) -> Series:
    """Bucket means with imputed minutes folded in; the observed-only mean kept beside them."""
    tz, g = series.participant.timezone, series.granularity
    observed_keys = _bucket_keys(result.t[result.observed], g, tz)
    imputed_keys = _bucket_keys(result.t[result.imputed], g, tz)
    series_keys = _bucket_keys(series.t, g, tz)
    keys = np.union1d(series_keys, imputed_keys)
    at = np.searchsorted(keys, series_keys)
    n = keys.size

    obs_minutes = np.bincount(np.searchsorted(keys, observed_keys[np.isin(observed_keys, keys)]), minlength=n)
    imp_pos = np.searchsorted(keys, imputed_keys)
    imp_minutes = np.bincount(imp_pos, minlength=n)
    imp_sum = np.bincount(imp_pos, result.v[result.imputed], minlength=n)

    v_observed = np.full(n, np.nan)
    v_observed[at] = series.v
    with np.errstate(invalid="ignore", divide="ignore"):
        # every minute weighs one; the observed minutes of a bucket keep their stored (sample-weighted) mean
        v = (np.nan_to_num(v_observed) * obs_minutes + imp_sum) / (obs_minutes + imp_minutes)
    v = np.where(imp_minutes == 0, v_observed, v)

    t = np.empty(n, dtype=np.int64)
    t[at] = series.t
    for i in np.setdiff1d(np.arange(n), at):  # buckets with imputed minutes only (an hour inside a long gap)
        t[i] = _bucket_start(int(keys[i]), g, tz)

    def spread(name: str, fill: float | int, dtype: type) -> np.ndarray:
        out: np.ndarray = np.full(n, fill, dtype=dtype)
        out[at] = series.extra[name]
        return out

    extra = {
        "min": spread("min", np.nan, np.float64),
        "max": spread("max", np.nan, np.float64),
        "count": spread("count", 0, np.int64),
        "v_observed": v_observed,
        "imputed_minutes": imp_minutes.astype(np.int64),
        **gaps,
    }
    if "sum" in series.extra:
        extra["sum"] = spread("sum", np.nan, np.float64)
    return replace(series, t=t, v=v, imputed=imp_minutes > 0, extra=extra)
