"""The loader against a real database: fast path, merge path, rollups, cursors, manifest, quarantine."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from fitpipe.catalog import BY_NAME
from fitpipe.localtime import NAT
from fitpipe.participants import Participant, add_participant
from fitpipe_ingest.counts import FileResult
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.records import ParsedFile, Rejected, SampleBatch
from tests.queries import one, scalar

pytestmark = pytest.mark.db

T0 = int(pd.Timestamp("2024-03-01T00:00:00Z").value // 1000)  # µs


def _hr(
    seconds: np.ndarray, values: np.ndarray, file: str = "hr.json", participant: str | None = None
) -> SampleBatch:
    return SampleBatch(
        "heart_rate",
        T0 + seconds.astype(np.int64) * 1_000_000,
        values,
        file,
        item=np.arange(seconds.size),
        participant=participant,
    )


def _load(
    conn: psycopg.Connection,
    participant: Participant,
    batches: Iterable[SampleBatch],
    path: str = "hr.json",
    sha: str = "a",
    full: bool = False,
    rejected: Iterable[Rejected] = (),
) -> FileResult:
    parsed = ParsedFile(file=path, kind="test", batches=list(batches), rejected=list(rejected))
    return load_parsed_file(
        conn,
        parsed,
        {None: participant, participant.external_id: participant},
        FileIdentity(path, 1, sha),
        LoadOptions(source="test", lag=timedelta(hours=1), full=full),
    )


def _samples(conn: psycopg.Connection) -> pd.DataFrame:
    rows = conn.execute("SELECT ts, value FROM samples ORDER BY ts").fetchall()
    return pd.DataFrame(rows, columns=["ts", "value"])


def _check_rollups_match_raw(conn: psycopg.Connection, tz: str) -> None:
    raw = _samples(conn)
    raw["ts"] = pd.to_datetime(raw["ts"], utc=True)
    expected = {
        "rollup_1m": raw.groupby(raw["ts"].dt.floor("min"))["value"],
        "rollup_1h": raw.groupby(raw["ts"].dt.floor("h"))["value"],
        "rollup_1d": raw.groupby(raw["ts"].dt.tz_convert(tz).dt.floor("D").dt.tz_convert("UTC"))["value"],
    }
    raw["minute"] = raw["ts"].dt.floor("min")
    keys = {
        "rollup_1m": raw["minute"],
        "rollup_1h": raw["ts"].dt.floor("h"),
        "rollup_1d": raw["ts"].dt.tz_convert(tz).dt.floor("D").dt.tz_convert("UTC"),
    }
    for table, grouped in expected.items():
        want = grouped.agg(["count", "sum", "min", "max"]).reset_index()
        want.columns = ["bucket", "count", "sum", "min", "max"]
        want["minutes"] = raw.groupby(keys[table])["minute"].nunique().to_numpy()
        got = pd.DataFrame(
            conn.execute(
                f"SELECT bucket, count, sum, min, max, minutes FROM {table} ORDER BY bucket"
            ).fetchall(),
            columns=["bucket", "count", "sum", "min", "max", "minutes"],
        )
        assert got["minutes"].tolist() == want["minutes"].tolist(), table
        got["bucket"] = pd.to_datetime(got["bucket"], utc=True)
        assert len(got) == len(want), table
        assert got["bucket"].tolist() == want["bucket"].tolist(), table
        np.testing.assert_array_equal(got["count"], want["count"], err_msg=table)
        np.testing.assert_allclose(got["sum"], want["sum"], rtol=1e-12, err_msg=table)
        np.testing.assert_array_equal(got["min"], want["min"], err_msg=table)
        np.testing.assert_array_equal(got["max"], want["max"], err_msg=table)


@pytest.fixture
def participant(db: psycopg.Connection) -> Participant:
    p, _ = add_participant(db, "P1", "s1", timezone="Asia/Kolkata")
    return p


def test_first_load_copies_rows_and_builds_exact_rollups(
    db: psycopg.Connection, participant: Participant
) -> None:
    rng = np.random.default_rng(1)
    secs = np.arange(0, 2 * 86_400, 3)
    result = _load(db, participant, [_hr(secs, rng.uniform(50, 120, secs.size))])
    counts = result.metrics["heart_rate"]
    assert (counts.read, counts.new, counts.present) == (secs.size, secs.size, 0)
    assert scalar(db, "SELECT count(*) FROM samples") == secs.size
    _check_rollups_match_raw(db, "Asia/Kolkata")


def test_reloading_the_same_file_adds_and_changes_nothing(
    db: psycopg.Connection, participant: Participant
) -> None:
    secs = np.arange(0, 7200, 1)
    values = 60 + (secs % 40).astype(float)
    _load(db, participant, [_hr(secs, values)])
    before = db.execute("SELECT count(*), sum(value) FROM samples").fetchone()
    again = _load(db, participant, [_hr(secs, values)], full=True)
    c = again.metrics["heart_rate"]
    assert (c.new, c.updated, c.present) == (0, 0, secs.size)
    assert db.execute("SELECT count(*), sum(value) FROM samples").fetchone() == before
    _check_rollups_match_raw(db, "Asia/Kolkata")


def test_grown_file_adds_only_new_samples_and_skips_before_its_cursor(
    db: psycopg.Connection, participant: Participant
) -> None:
    secs = np.arange(0, 6 * 3600, 5)
    _load(db, participant, [_hr(secs, np.full(secs.size, 70.0))], sha="v1")
    grown = np.arange(0, 8 * 3600, 5)
    result = _load(db, participant, [_hr(grown, np.full(grown.size, 70.0))], sha="v2")
    c = result.metrics["heart_rate"]
    assert c.new == grown.size - secs.size
    assert c.present == secs.size
    assert scalar(db, "SELECT count(*) FROM samples") == grown.size
    _check_rollups_match_raw(db, "Asia/Kolkata")


def test_changed_values_are_updated_and_rollups_recomputed(
    db: psycopg.Connection, participant: Participant
) -> None:
    secs = np.arange(0, 3600, 10)
    _load(db, participant, [_hr(secs, np.full(secs.size, 70.0))])
    changed = np.full(secs.size, 70.0)
    changed[::2] = 90.0
    result = _load(db, participant, [_hr(secs, changed)], full=True)
    assert result.metrics["heart_rate"].updated == (secs.size + 1) // 2
    assert scalar(db, "SELECT max(value) FROM samples") == 90.0
    _check_rollups_match_raw(db, "Asia/Kolkata")


def test_duplicate_timestamps_in_one_input_keep_the_last_value(
    db: psycopg.Connection, participant: Participant
) -> None:
    secs = np.array([0, 1, 1, 2, 1])
    values = np.array([60.0, 61.0, 62.0, 63.0, 64.0])
    result = _load(db, participant, [_hr(secs, values)])
    assert result.metrics["heart_rate"].duplicates == 2
    rows = db.execute("SELECT value FROM samples ORDER BY ts").fetchall()
    assert [r[0] for r in rows] == [60.0, 64.0, 63.0]


def test_invalid_values_go_to_quarantine_once(db: psycopg.Connection, participant: Participant) -> None:
    batch = _hr(np.array([0, 1, 2, 3]), np.array([60.0, np.nan, 400.0, 61.0]))
    batch.ts[3] = NAT
    first = _load(db, participant, [batch])
    assert first.metrics["heart_rate"].quarantined == 3
    assert first.metrics["heart_rate"].new == 1
    _load(db, participant, [batch], full=True)
    rows = db.execute("SELECT record, field, reason FROM quarantine ORDER BY record").fetchall()
    assert len(rows) == 3
    assert rows[1][0] == "record 2" and "outside the valid range" in rows[1][2]
    assert {r[1] for r in rows} == {"value", "time"}


def test_cursor_and_manifest_commit_with_the_rows(db: psycopg.Connection, participant: Participant) -> None:
    secs = np.arange(100, 200)
    _load(db, participant, [_hr(secs, np.full(secs.size, 65.0))], path="a.json", sha="abc")
    first, last = one(db, "SELECT initial_value, last_value FROM ingest_cursors")
    assert int(first.timestamp()) == T0 // 1_000_000 + 100
    assert int(last.timestamp()) == T0 // 1_000_000 + 199
    path, sha, max_ts = one(db, "SELECT path, sha256, max_ts FROM ingest_files")
    assert (path, sha) == ("a.json", "abc")
    assert max_ts == {"heart_rate": T0 + 199 * 1_000_000}


def test_a_failing_file_writes_nothing(db: psycopg.Connection, participant: Participant) -> None:
    good = _hr(np.arange(0, 100), np.full(100, 70.0))
    bad = SampleBatch("no_such_metric", good.ts, good.value, "hr.json")
    with pytest.raises(Exception, match="unknown metric"):
        _load(db, participant, [good, bad])
    assert scalar(db, "SELECT count(*) FROM samples") == 0
    assert scalar(db, "SELECT count(*) FROM ingest_files") == 0


def test_daily_metric_lands_in_the_local_day_bucket(db: psycopg.Connection, participant: Participant) -> None:
    # 2024-03-01 00:00 in Asia/Kolkata is 2024-02-29 18:30 UTC
    local_midnight = int(pd.Timestamp("2024-03-01", tz="Asia/Kolkata").value // 1000)
    batch = SampleBatch("resting_heart_rate", np.array([local_midnight]), np.array([58.0]), "rhr.json")
    _load(db, participant, [batch], path="rhr.json")
    bucket, mean = one(db, "SELECT bucket, mean FROM data_1d WHERE metric_name = 'resting_heart_rate'")
    assert bucket == pd.Timestamp("2024-03-01", tz="Asia/Kolkata").to_pydatetime()
    assert mean == 58.0
    assert BY_NAME["resting_heart_rate"].daily


def test_appending_within_an_already_stored_minute_does_not_count_it_twice(
    db: psycopg.Connection, participant: Participant
) -> None:
    first = np.arange(0, 90, 5)  # ends at 00:01:25
    _load(db, participant, [_hr(first, np.full(first.size, 60.0))], path="a.json")
    second = np.arange(95, 200, 5)  # starts inside the same minute, in another file: the fast path
    result = _load(db, participant, [_hr(second, np.full(second.size, 80.0))], path="b.json")
    assert result.metrics["heart_rate"].new == second.size
    _check_rollups_match_raw(db, "Asia/Kolkata")
