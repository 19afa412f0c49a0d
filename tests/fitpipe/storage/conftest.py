"""Storage fixtures: the full-edition guard and a participant with a row in every table that refers to one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from fitpipe.participants import Participant, add_participant
from fitpipe.storage import compress_old_chunks, detect_edition
from fitpipe_ingest.counts import FileResult
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.records import ParsedFile, SampleBatch, SleepSession, SleepStage

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def full_edition(db: psycopg.Connection) -> None:
    edition = detect_edition(db)
    if not edition.compression:
        pytest.skip(
            f"needs TimescaleDB's full edition (TSL module loaded, timescaledb.license=timescale); this server is "
            f"{edition.describe()}: set FITPIPE_TEST_DATABASE_URL to a full-edition server"
        )


def compress_everything(conn: psycopg.Connection) -> int:
    """Compress every chunk of samples and rollup_1m (full edition); returns how many were compressed."""
    return len(compress_old_chunks(conn, FAR_FUTURE).chunks)


def load(
    conn: psycopg.Connection,
    p: Participant,
    metric: str,
    ts: pd.DatetimeIndex,
    values: np.ndarray,
    path: str,
    *,
    sleep: list[SleepSession] | None = None,
    lag: timedelta = timedelta(hours=1),
) -> FileResult:
    us = ts.as_unit("us").asi8.astype(np.int64)
    parsed = ParsedFile(
        path,
        "test",
        [SampleBatch(metric, us, np.asarray(values, dtype=np.float64), path, item=np.arange(us.size))],
        sleep=sleep or [],
    )
    return load_parsed_file(
        conn, parsed, {None: p}, FileIdentity(path, 1, path), LoadOptions("test", lag=lag)
    )


def populate(
    conn: psycopg.Connection, external_id: str, study: str, start: str, *, email: str
) -> Participant:
    """Two days of 5-s heart rate (one value out of range: quarantined), steps per minute, a daily metric,
    a night with stages, a data source, a contact, an audit row, and everything of the Google source."""
    p, _ = add_participant(conn, external_id, study, timezone="Europe/Berlin", email=email)
    t0 = pd.Timestamp(start)
    hr = pd.date_range(t0, t0 + pd.Timedelta(days=2), freq="5s", inclusive="left")
    values = 60 + (np.arange(hr.size) % 40).astype(np.float64)
    values[7] = 999.0
    night = SleepSession(
        start=(t0 + pd.Timedelta(hours=22)).to_pydatetime(),
        end=(t0 + pd.Timedelta(hours=30)).to_pydatetime(),
        local_date=(t0 + pd.Timedelta(days=1)).date(),
        is_main_sleep=True,
        file="hr.json",
        record="1",
        minutes_asleep=420,
        stages=[
            SleepStage((t0 + pd.Timedelta(hours=22)).to_pydatetime(), 3600, "light"),
            SleepStage((t0 + pd.Timedelta(hours=23)).to_pydatetime(), 3600, "deep"),
        ],
    )
    load(conn, p, "heart_rate", hr, values, "hr.json", sleep=[night])
    minutes = pd.date_range(t0, t0 + pd.Timedelta(days=2), freq="min", inclusive="left")
    load(conn, p, "steps", minutes, np.arange(minutes.size) % 50, "steps.csv")
    load(conn, p, "resting_heart_rate", pd.DatetimeIndex([t0]), np.array([55.0]), "rhr.json")
    conn.execute(
        "INSERT INTO participant_sources (participant_id, source, status) VALUES (%s, 'google_health', 'active')",
        (p.id,),
    )
    conn.execute(
        "INSERT INTO contacts (participant_id, reason, status) VALUES (%s, 'low_wear', 'sent')", (p.id,)
    )
    conn.execute(
        "INSERT INTO audit_log (participant_id, action, detail) VALUES (%s, 'read_timeseries', %s)",
        (p.id, '{"metrics": ["heart_rate"], "start": "2024-01-01"}'),
    )
    conn.execute(
        """INSERT INTO oauth_grants (participant_id, provider, health_user_id, refresh_token, access_token)
           VALUES (%s, 'google_health', %s, '\\x0102', '\\x0304')""",
        (p.id, f"health-{external_id}"),
    )
    conn.execute(
        """INSERT INTO oauth_states (state_hash, participant_id, provider, code_verifier, redirect_uri, expires_at)
           VALUES (%s, %s, 'google_health', '\\x05', 'https://x.example/cb', now() + interval '1 hour')""",
        (external_id.encode(), p.id),
    )
    conn.execute(
        "INSERT INTO google_health_sync (participant_id, data_type, fetched_until) VALUES (%s, 'steps', now())",
        (p.id,),
    )
    conn.execute(
        """INSERT INTO google_health_backfills (participant_id, data_type, since, until, done_until)
           VALUES (%s, 'steps', %s, %s, %s)""",
        (p.id, date(2023, 1, 1), date(2023, 2, 1), date(2023, 1, 15)),
    )
    conn.execute(
        """INSERT INTO google_health_notifications (participant_id, data_type, operation, start_time, end_time)
           VALUES (%s, 'steps', 'UPSERT', now() - interval '1 hour', now())""",
        (p.id,),
    )
    return p


def tables_with_participant_id(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'participant_id' AND NOT a.attisdropped
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1"""
        ).fetchall()
    ]


def rows_of(conn: psycopg.Connection, pid: int) -> dict[str, int]:
    """Rows referring to participant `pid` in every table (and sleep stages through their sessions)."""
    out = {}
    for table in tables_with_participant_id(conn):
        row = conn.execute(
            f'SELECT count(*) FROM public."{table}" WHERE participant_id = %s', (pid,)
        ).fetchone()
        out[table] = int(row[0]) if row else 0
    row = conn.execute(
        "SELECT count(*) FROM sleep_stages st JOIN sleep_sessions s ON s.id = st.session_id WHERE s.participant_id = %s",
        (pid,),
    ).fetchone()
    out["sleep_stages"] = int(row[0]) if row else 0
    return out


def digest_of(conn: psycopg.Connection, pid: int) -> dict[str, tuple[int, str]]:
    """Count and md5 of a participant's rows per table (ids and wall-clock columns left out)."""
    queries = {
        "samples": "SELECT ts, value, metric_id FROM samples WHERE participant_id = %s",
        "rollup_1m": "SELECT bucket, metric_id, count, sum, min, max, minutes FROM rollup_1m WHERE participant_id = %s",
        "rollup_1h": "SELECT bucket, metric_id, count, sum, min, max, minutes FROM rollup_1h WHERE participant_id = %s",
        "rollup_1d": "SELECT bucket, metric_id, count, sum, min, max, minutes FROM rollup_1d WHERE participant_id = %s",
        "sleep": "SELECT s.start_time, st.start_time, st.level FROM sleep_sessions s "
        "JOIN sleep_stages st ON st.session_id = s.id WHERE s.participant_id = %s",
        "cursors": "SELECT source, metric_id, initial_value, last_value FROM ingest_cursors WHERE participant_id = %s",
        "manifest": "SELECT path, sha256, max_ts::text FROM ingest_files WHERE participant_id = %s",
        "quarantine": "SELECT file, record, field, reason, raw FROM quarantine WHERE participant_id = %s",
        "grants": "SELECT health_user_id, refresh_token FROM oauth_grants WHERE participant_id = %s",
    }
    out = {}
    for name, query in queries.items():
        row = conn.execute(
            f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ({query}) t",
            (pid,),
        ).fetchone()
        assert row is not None
        out[name] = (int(row[0]), str(row[1]))
    return out
