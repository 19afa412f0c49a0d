"""GET /api/v1/timeseries?impute=auto against the real database: imputed minutes with intervals, observed values
untouched, hourly summaries with and without imputed minutes, and the gaps left empty (too long, non-wear)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from fitpipe.participants import Participant
from fitpipe_api.imputation import REASONS
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.records import ParsedFile, SampleBatch
from tests.api.conftest import Tokens, auth, load_heart_rate

pytestmark = pytest.mark.db
URL = "/api/v1/timeseries"
DAY = "2024-01-10"  # A2 lives in Europe/London: in January its local day is the UTC day
WALK = (8 * 60, 30)  # (first minute of the day, minutes): a 30-minute gap while walking → imputed
OFF = (12 * 60, 90)  # 90 minutes without heart rate and without a step → non-wear, left empty
LONG = (16 * 60, 150)  # 150 minutes with steps → longer than the 120-minute maximum, left empty
HOUR = (20 * 60 - 10, 80)  # 19:50-21:10 with steps → imputed, and the 20:00 hour has no observed minute
FILLED = np.concatenate([np.arange(WALK[0], WALK[0] + WALK[1]), np.arange(HOUR[0], HOUR[0] + HOUR[1])])


def _load_steps(
    conn: psycopg.Connection, participant: Participant, t_us: np.ndarray, steps: np.ndarray
) -> None:
    batch = SampleBatch("steps", t_us, steps, "steps.json")
    load_parsed_file(
        conn,
        ParsedFile("steps.json", "test", [batch]),
        {None: participant},
        FileIdentity("steps.json", 1, "steps.json"),
        LoadOptions(source="test", lag=timedelta(hours=1)),
    )


@pytest.fixture
def gappy(db: psycopg.Connection, cohort: dict[str, Participant]) -> None:
    """A2: two days of 10-second heart rate (the day before DAY is history) with three gaps on DAY, and minute steps."""
    start = pd.Timestamp(DAY, tz="UTC") - pd.Timedelta(days=1)
    secs = np.arange(0, 2 * 86_400, 10)
    minute_of_day = (secs // 60) % 1440
    on_day = secs >= 86_400
    drop = np.zeros(secs.size, dtype=bool)
    for first, length in (WALK, OFF, LONG, HOUR):
        drop |= on_day & (minute_of_day >= first) & (minute_of_day < first + length)
    rng = np.random.default_rng(21)
    hr = 64 + 9 * np.sin(2 * np.pi * (secs / 3600 - 9) / 24) + np.cumsum(rng.normal(0, 0.15, secs.size)) % 6
    load_heart_rate(db, cohort["A2"], start.isoformat(), secs[~drop], np.round(hr[~drop]))
    minutes = np.arange(2 * 1440)
    steps = np.where(minutes % 3 == 0, 40.0, 5.0)
    off = (minutes >= 1440 + OFF[0]) & (minutes < 1440 + OFF[0] + OFF[1])
    t0 = int(start.value // 1000)
    _load_steps(db, cohort["A2"], t0 + minutes[~off] * 60_000_000, steps[~off])


def _get(client: TestClient, token: str, **params: str) -> dict[str, Any]:
    base = {"user_id": "A2", "metric": "heart_rate", "start_date": DAY, "end_date": DAY}
    r = client.get(URL, params={**base, **params}, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()["series"][0]


def _minutes_of(series: dict[str, Any]) -> np.ndarray:
    t = pd.to_datetime(series["t"], utc=True)
    return np.asarray((t - pd.Timestamp(DAY, tz="UTC")) // pd.Timedelta(minutes=1))


def test_short_gaps_get_flagged_minutes_with_intervals_and_observed_minutes_stay_as_stored(
    client: TestClient, tokens: Tokens, gappy: None
) -> None:
    plain = _get(client, tokens.coordinator_a, granularity="1m")
    filled = _get(client, tokens.coordinator_a, granularity="1m", impute="auto")
    imputed = np.array(filled["imputed"])
    minute = _minutes_of(filled)
    assert imputed.sum() == FILLED.size == filled["imputed_points"]
    np.testing.assert_array_equal(minute[imputed], FILLED)
    # observed minutes: the same times and the same values as without imputation
    assert [t for t, i in zip(filled["t"], imputed, strict=True) if not i] == plain["t"]
    assert [v for v, i in zip(filled["v"], imputed, strict=True) if not i] == plain["v"]
    v, lo, hi = (np.array(filled[k], dtype=float) for k in ("v", "lo", "hi"))
    assert np.all((lo[imputed] < v[imputed]) & (v[imputed] < hi[imputed]))
    assert np.isnan(lo[~imputed]).all() and np.isnan(hi[~imputed]).all()  # null in JSON
    assert np.all(np.array(filled["count"])[imputed] == 0)
    # the values are plausible heart rate between the gap's edges, not a copy of a neighbour
    walk = np.isin(minute, np.arange(WALK[0], WALK[0] + WALK[1]))
    edges = np.array(plain["v"])[np.isin(_minutes_of(plain), [WALK[0] - 1, WALK[0] + WALK[1]])]
    assert np.all(np.abs(v[walk] - edges.mean()) < 25) and np.unique(v[walk]).size > 1


def test_gaps_too_long_or_without_steps_stay_empty_with_their_reason(
    client: TestClient, tokens: Tokens, gappy: None
) -> None:
    filled = _get(client, tokens.coordinator_a, granularity="1m", impute="auto")
    minute = _minutes_of(filled)
    for first, length in (OFF, LONG):
        assert not np.any((minute >= first) & (minute < first + length))
    empty = {
        (pd.Timestamp(s).strftime("%H:%M"), m, REASONS[r])
        for s, m, r in zip(
            filled["empty_gap_start"], filled["empty_gap_minutes"], filled["empty_gap_reason"], strict=True
        )
    }
    assert empty == {("12:00", OFF[1], "non_wear"), ("16:00", LONG[1], "longer_than_max_gap")}


def test_hourly_summary_reports_means_with_and_without_imputed_minutes(
    client: TestClient, tokens: Tokens, gappy: None
) -> None:
    plain = _get(client, tokens.coordinator_a, granularity="1h")
    filled = _get(client, tokens.coordinator_a, granularity="1h", impute="auto")
    minutes = _get(client, tokens.coordinator_a, granularity="1m", impute="auto")
    hours = pd.to_datetime(filled["t"], utc=True)
    twenty = pd.Timestamp(f"{DAY}T20:00", tz="UTC")
    stored = np.array([h != twenty for h in hours])  # 20:00 has only imputed minutes: no stored bucket
    assert [t for t, keep in zip(filled["t"], stored, strict=True) if keep] == plain["t"]
    np.testing.assert_array_equal(np.array(filled["v_observed"], dtype=float)[stored], plain["v"])
    assert list(np.array(filled["count"])[stored]) == plain["count"]
    # independent computation from the minute answer: each minute weighs one, observed minutes keep the stored mean
    m = pd.DataFrame(
        {"t": pd.to_datetime(minutes["t"], utc=True), "v": minutes["v"], "imputed": minutes["imputed"]}
    )
    m["hour"] = m["t"].dt.floor("h")
    per_hour = m.groupby("hour").agg(
        observed=("imputed", lambda s: int((~s).sum())),
        imputed=("imputed", "sum"),
        imputed_sum=("v", lambda s: float(s[m.loc[s.index, "imputed"]].sum())),
    )
    per_hour = per_hour.reindex(hours)
    np.testing.assert_array_equal(filled["imputed_minutes"], per_hour["imputed"].to_numpy())
    observed_mean = np.nan_to_num(np.array(filled["v_observed"], dtype=float))
    want = (observed_mean * per_hour["observed"] + per_hour["imputed_sum"]) / (
        per_hour["observed"] + per_hour["imputed"]
    )
    np.testing.assert_allclose(filled["v"], want.to_numpy(), rtol=1e-12)
    at_eight = list(hours).index(pd.Timestamp(f"{DAY}T08:00", tz="UTC"))
    assert filled["imputed"][at_eight] and filled["imputed_minutes"][at_eight] == 30
    assert filled["v"][at_eight] != filled["v_observed"][at_eight]
    at_twenty = list(hours).index(twenty)
    assert filled["imputed_minutes"][at_twenty] == 60 and filled["count"][at_twenty] == 0
    assert filled["v_observed"][at_twenty] is None and filled["v"][at_twenty] is not None
    with_imputed = {h.strftime("%H:%M") for h, i in zip(hours, filled["imputed"], strict=True) if i}
    assert with_imputed == {"08:00", "19:00", "20:00", "21:00"}


def test_daily_summary_counts_the_imputed_minutes(client: TestClient, tokens: Tokens, gappy: None) -> None:
    plain = _get(client, tokens.coordinator_a, granularity="1d")
    filled = _get(client, tokens.coordinator_a, granularity="1d", impute="auto")
    assert filled["t"] == plain["t"] and len(filled["t"]) == 1
    assert filled["imputed_minutes"] == [FILLED.size] and filled["v_observed"] == plain["v"]
    observed = 1440 - WALK[1] - OFF[1] - LONG[1] - HOUR[1]
    # 110 minutes within 40 bpm of the day's mean cannot move it further than this
    assert abs(filled["v"][0] - plain["v"][0]) < FILLED.size * 40 / (observed + FILLED.size)


def test_raw_samples_are_never_imputed(client: TestClient, tokens: Tokens, gappy: None) -> None:
    plain = _get(client, tokens.coordinator_a, granularity="raw")
    filled = _get(client, tokens.coordinator_a, granularity="raw", impute="auto")
    assert filled["t"] == plain["t"] and filled["v"] == plain["v"] and not any(filled["imputed"])


def test_metrics_other_than_heart_rate_come_back_unchanged(
    client: TestClient, tokens: Tokens, gappy: None
) -> None:
    plain = _get(client, tokens.coordinator_a, granularity="1m", metric="steps")
    filled = _get(client, tokens.coordinator_a, granularity="1m", metric="steps", impute="auto")
    assert filled == plain


def test_imputation_over_more_than_the_maximum_span_is_refused(
    client: TestClient, tokens: Tokens, gappy: None
) -> None:
    r = client.get(
        URL,
        params={
            "user_id": "A2",
            "metric": "heart_rate",
            "start_date": "2023-06-01",
            "end_date": DAY,
            "granularity": "1d",
            "impute": "auto",
        },
        headers=auth(tokens.coordinator_a),
    )
    assert r.status_code == 422 and "impute" in r.json()["parameter"]


def test_exports_carry_the_imputed_minutes_flagged(client: TestClient, tokens: Tokens, gappy: None) -> None:
    r = client.get(
        URL,
        params={
            "user_id": "A2",
            "metric": "heart_rate",
            "start_date": DAY,
            "end_date": DAY,
            "granularity": "1m",
            "impute": "auto",
            "format": "parquet",
        },
        headers=auth(tokens.coordinator_a),
    )
    assert r.status_code == 200, r.text
    table = pq.read_table(io.BytesIO(r.content)).to_pandas()
    minutes = _get(client, tokens.coordinator_a, granularity="1m", impute="auto")
    assert table["imputed"].sum() == FILLED.size and len(table) == minutes["points"]
    np.testing.assert_allclose(table["v"].to_numpy(), minutes["v"])
