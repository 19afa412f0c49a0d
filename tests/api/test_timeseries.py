"""GET /api/v1/timeseries against the real database: values, granularity, fallbacks, errors, formats."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from fitpipe_api.queries.timeseries import Span
from tests.api.conftest import Tokens, auth

pytestmark = pytest.mark.db
URL = "/api/v1/timeseries"


def _raw(db: psycopg.Connection, user: str) -> pd.DataFrame:
    rows = db.execute(
        "SELECT \"timestamp\", value FROM raw_data WHERE user_id = %s AND metric_name = 'heart_rate' ORDER BY 1",
        (user,),
    ).fetchall()
    df = pd.DataFrame(rows, columns=["ts", "value"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def test_hourly_means_match_an_independent_computation(
    client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    r = client.get(
        URL,
        params={
            "user_id": "A1",
            "metric": "heart_rate",
            "start_date": "2024-01-01",
            "end_date": "2024-01-02",
            "granularity": "1h",
        },
        headers=auth(tokens.coordinator_a),
    )
    assert r.status_code == 200, r.text
    s = r.json()["series"][0]
    assert s["granularity"] == "1h"
    raw = _raw(db, "A1")
    lo = pd.Timestamp("2024-01-01", tz="America/New_York")
    hi = pd.Timestamp("2024-01-03", tz="America/New_York")
    raw = raw[(raw["ts"] >= lo) & (raw["ts"] < hi)]
    want = raw.groupby(raw["ts"].dt.floor("h"))["value"].agg(["mean", "count"])
    assert [pd.Timestamp(t) for t in s["t"]] == list(want.index)
    np.testing.assert_allclose(s["v"], want["mean"].to_numpy(), rtol=1e-12)
    assert s["count"] == want["count"].tolist()


def test_auto_granularity_stays_within_the_point_budget(client: TestClient, tokens: Tokens) -> None:
    params = {"user_id": "A1", "metric": "heart_rate", "start_date": "2024-01-01", "end_date": "2024-01-02"}
    small = client.get(URL, params={**params, "max_points": 100}, headers=auth(tokens.admin)).json()[
        "series"
    ][0]
    assert small["granularity"] == "1h" and small["points"] <= 100
    big = client.get(URL, params={**params, "max_points": 100_000}, headers=auth(tokens.admin)).json()[
        "series"
    ][0]
    assert big["granularity"] == "raw" and big["points"] == 2 * 86_400 // 5


def test_missing_dates_fall_back_to_the_latest_seven_days(
    client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    r = client.get(
        URL,
        params={"user_id": "A1", "metric": "heart_rate", "granularity": "raw"},
        headers=auth(tokens.admin),
    )
    s = r.json()["series"][0]
    assert pd.Timestamp(s["t"][-1]) == _raw(db, "A1")["ts"].max()
    assert s["points"] == len(_raw(db, "A1"))


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"metric": "heart_rate"}, 422, "user_id"),
        ({"user_id": "A1"}, 422, "metric"),
        (
            {"user_id": "A1", "metric": "heart_rate", "start_date": "2024-02-01", "end_date": "2024-01-01"},
            422,
            "start",
        ),
        ({"user_id": "A1", "metric": "heart_rate", "start_date": "yesterday"}, 422, "start_date"),
        ({"user_id": "A1", "metric": "pulse"}, 404, "unknown metric"),
        ({"user_id": "nobody", "metric": "heart_rate"}, 404, "no participant"),
        ({"user_id": "B1", "metric": "heart_rate"}, 404, "no participant"),
    ],
)
def test_bad_requests_get_clear_errors(
    client: TestClient, tokens: Tokens, params: dict[str, str], status: int, needle: str
) -> None:
    r = client.get(URL, params=params, headers=auth(tokens.coordinator_a))
    assert r.status_code == status, r.text
    assert needle in r.text


def test_requests_without_a_valid_token_are_refused(client: TestClient) -> None:
    params = {"user_id": "A1", "metric": "heart_rate"}
    assert client.get(URL, params=params).status_code == 401
    assert client.get(URL, params=params, headers=auth("fp_wrong")).status_code == 401


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow"])
def test_export_formats_hold_the_same_rows(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, fmt: str
) -> None:
    params = {
        "user_id": "A1",
        "metric": "heart_rate",
        "start_date": "2024-01-01",
        "end_date": "2024-01-02",
        "granularity": "raw",
        "format": fmt,
    }
    r = client.get(URL, params=params, headers=auth(tokens.analyst_a))
    assert r.status_code == 200, r.text
    if fmt == "csv":
        df = pd.read_csv(io.StringIO(r.text))
        t = pd.to_datetime(df["t"], utc=True)
        v = df["v"].to_numpy()
    else:
        table = (
            pq.read_table(io.BytesIO(r.content))
            if fmt == "parquet"
            else pa.ipc.open_stream(r.content).read_all()
        )
        t = pd.Series(table.column("t").to_pandas())
        v = table.column("v").to_numpy()
    raw = _raw(db, "A1")
    lo, hi = (
        pd.Timestamp("2024-01-01", tz="America/New_York"),
        pd.Timestamp("2024-01-03", tz="America/New_York"),
    )
    raw = raw[(raw["ts"] >= lo) & (raw["ts"] < hi)]
    assert list(t) == list(raw["ts"])
    np.testing.assert_allclose(v, raw["value"].to_numpy())


def test_reads_are_audited_and_the_audit_log_is_append_only(
    client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    r = client.get(
        URL,
        params={"user_id": "A1", "metric": "heart_rate"},
        headers={**auth(tokens.admin), "X-Request-ID": "req-1"},
    )
    assert r.headers["X-Request-ID"] == "req-1"
    row = db.execute(
        "SELECT a.action, p.external_id, a.client_request_id, a.request_id FROM audit_log a "
        "JOIN participants p ON p.id = a.participant_id"
    ).fetchone()
    assert row is not None and row[:3] == ("read_timeseries", "A1", "req-1")
    assert re.fullmatch(r"[0-9a-f]{32}", row[3])  # the server's own id, not the client's
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("DELETE FROM audit_log")
    db.execute("SET ROLE fitpipe_api")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("UPDATE audit_log SET action = 'x'")


def test_metrics_endpoint_exports_http_and_ingest_families_without_auth(
    client: TestClient, tokens: Tokens
) -> None:
    client.get(URL, params={"user_id": "A1", "metric": "heart_rate"}, headers=auth(tokens.admin))
    text = client.get("/metrics").text
    assert (
        'fitpipe_http_request_duration_seconds_count{method="GET",route="/api/v1/timeseries",status="200"} 1.0'
        in text
    )
    assert "fitpipe_database_up 1.0" in text
    assert "A1" not in text  # no participant ids as labels


@pytest.mark.parametrize(
    ("granularity", "format", "counted"),
    [("auto", "json", 2), ("raw", "json", 2), ("1h", "json", 0), ("raw", "csv", 0), ("auto", "csv", 2)],
)
def test_each_series_is_planned_once_and_its_points_counted_at_most_once(
    client: TestClient,
    tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
    granularity: str,
    format: str,
    counted: int,
) -> None:
    """One plan per series, passed down: the points are counted once when the choice or the JSON limit needs
    them (auto; raw as JSON), never for a fixed coarse granularity or a raw export."""
    from fitpipe_api import series

    calls: list[object] = []
    real = series.point_counts

    def counting(conn: psycopg.Connection, span: Span) -> dict[str, int]:
        calls.append(span)
        return real(conn, span)

    monkeypatch.setattr(series, "point_counts", counting)
    r = client.get(
        URL,
        params={
            "user_id": "A1",
            "metric": ["heart_rate", "steps"],
            "start_date": "2024-01-01",
            "end_date": "2024-01-01",
            "granularity": granularity,
            "format": format,
            "max_points": 100_000,  # auto picks raw: the JSON limit needs the same count again
        },
        headers=auth(tokens.admin),
    )
    assert r.status_code == 200, r.text
    assert len(calls) == counted
    if format == "json" and granularity != "1h":
        assert [s["granularity"] for s in r.json()["series"]] == ["raw", "raw"]
