"""Brute-force checks of every minute layer (data_1m, the API's 1-minute read, rollup_1h, rollup_1d) of one
participant's metric against its samples, shared by the loader and storage tests."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg

from fitpipe.catalog import BY_NAME
from fitpipe_api.queries.timeseries import Span, read_all, stream_rollup

__all__ = ["check_minute_layers"]


def _raw(conn: psycopg.Connection, metric: str, pid: int) -> pd.DataFrame:
    rows = conn.execute(
        "SELECT ts, value FROM samples WHERE metric_id = %s AND participant_id = %s ORDER BY ts",
        (BY_NAME[metric].id, pid),
    ).fetchall()
    df = pd.DataFrame(rows, columns=["ts", "value"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def _expected(raw: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    minute = raw["ts"].dt.floor("min")
    out = raw.groupby(key)["value"].agg(["count", "sum", "min", "max"])
    out["minutes"] = minute.groupby(key.to_numpy()).nunique().to_numpy()
    out.index.name = "bucket"
    return out.reset_index()


def _stored(conn: psycopg.Connection, sql: str, params: tuple[object, ...]) -> pd.DataFrame:
    df = pd.DataFrame(
        conn.execute(sql, params).fetchall(), columns=["bucket", "count", "sum", "min", "max", "minutes"]
    )
    df["bucket"] = pd.to_datetime(df["bucket"], utc=True)
    return df


def _assert_same(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    assert got["bucket"].tolist() == want["bucket"].tolist(), what
    assert got["count"].tolist() == want["count"].tolist(), what
    assert got["minutes"].tolist() == want["minutes"].tolist(), what
    np.testing.assert_allclose(got["sum"], want["sum"], rtol=1e-12, err_msg=what)
    np.testing.assert_array_equal(got["min"], want["min"], err_msg=what)
    np.testing.assert_array_equal(got["max"], want["max"], err_msg=what)


def check_minute_layers(conn: psycopg.Connection, metric: str, pid: int | None = None) -> None:
    """data_1m (the view), the API's 1-minute read, rollup_1h and rollup_1d of `metric` equal brute force
    (for one participant: `pid`, or the only one with samples of the metric)."""
    mid = BY_NAME[metric].id
    if pid is None:
        [(pid,)] = conn.execute(
            "SELECT DISTINCT participant_id FROM samples WHERE metric_id = %s", (mid,)
        ).fetchall()
    who = conn.execute(
        "SELECT p.external_id, p.timezone FROM participants p WHERE p.id = %s", (pid,)
    ).fetchone()
    assert who is not None
    user, tz = who
    raw = _raw(conn, metric, pid)
    assert len(raw), "no samples to check"
    minute = raw["ts"].dt.floor("min")
    want_1m = _expected(raw, minute)
    want_1m["minutes"] = 1
    view = _stored(
        conn,
        "SELECT bucket, count, sum, min, max, minutes FROM data_1m WHERE metric_name = %s AND user_id = %s "
        "ORDER BY bucket",
        (metric, user),
    )
    _assert_same(view, want_1m, f"data_1m {metric}")
    span = Span(
        int(pid),
        mid,
        minute.iloc[0].to_pydatetime(),
        minute.iloc[-1].to_pydatetime() + timedelta(minutes=1),
    )
    api = read_all(stream_rollup(conn, span, "1m"))
    assert pd.to_datetime(api["t"], unit="us", utc=True).tolist() == want_1m["bucket"].tolist()
    assert api["count"].tolist() == want_1m["count"].tolist()
    np.testing.assert_array_equal(api["max"], want_1m["max"])
    _assert_same(
        _stored(
            conn,
            "SELECT bucket, count, sum, min, max, minutes FROM rollup_1h WHERE metric_id = %s "
            "AND participant_id = %s ORDER BY bucket",
            (mid, pid),
        ),
        _expected(raw, raw["ts"].dt.floor("h")),
        f"rollup_1h {metric}",
    )
    local_day = raw["ts"].dt.tz_convert(tz).dt.floor("D", ambiguous=False, nonexistent="shift_forward")
    _assert_same(
        _stored(
            conn,
            "SELECT bucket, count, sum, min, max, minutes FROM rollup_1d WHERE metric_id = %s "
            "AND participant_id = %s ORDER BY bucket",
            (mid, pid),
        ),
        _expected(raw, local_day.dt.tz_convert("UTC")),
        f"rollup_1d {metric}",
    )
