"""Compression on the full TimescaleDB edition: capability-checked (the Apache edition is left exactly as it
was), every write path exact on compressed chunks, reads unchanged, kill -9 and rerun converge. The
full-edition tests skip, saying why, unless the test server has TimescaleDB's TSL module."""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from fitpipe.cli import cli
from fitpipe.dbroles.catalog import API, INGEST
from fitpipe.errors import ConfigError
from fitpipe.migrations import migrate
from fitpipe.participants import Participant, add_participant
from fitpipe.settings import Settings
from fitpipe.storage import (
    apply_retention,
    compress_old_chunks,
    compression_cutoff,
    detect_edition,
    read_sizes,
    set_retention,
)
from fitpipe_api.queries.timeseries import Span, read_all, stream_raw, stream_rollup
from fitpipe_ingest.load import GroupLoad, LoadOptions, prepare
from fitpipe_ingest.records import ParsedFile, SampleBatch
from fitpipe_ingest.synth.cohort import CohortOptions, write_cohort
from tests.conftest import role_url
from tests.fitpipe.storage.conftest import FAR_FUTURE, compress_everything, load
from tests.ingest_job.minute_checks import check_minute_layers

pytestmark = pytest.mark.db

T0 = pd.Timestamp("2024-04-01T00:00:00Z")


def _chunk_states(conn: psycopg.Connection, table: str) -> list[bool]:
    return [
        bool(r[0])
        for r in conn.execute(
            "SELECT is_compressed FROM timescaledb_information.chunks WHERE hypertable_name = %s ORDER BY range_start",
            (table,),
        )
    ]


def _answers(conn: psycopg.Connection, p: Participant) -> dict[str, object]:
    """What the readers see: raw samples, every rollup through the API's reads, and the views."""
    out: dict[str, object] = {}
    for metric_id in (1, 16):
        span = Span(p.id, metric_id, T0.to_pydatetime(), (T0 + pd.Timedelta(days=4)).to_pydatetime())
        raw = list(stream_raw(conn, span))
        out[f"raw{metric_id}"] = (
            np.concatenate([r[0] for r in raw]).tolist(),
            np.concatenate([r[1] for r in raw]).tolist(),
        )
        for g in ("1m", "1h", "1d"):
            out[f"{g}{metric_id}"] = {
                k: v.tolist() for k, v in read_all(stream_rollup(conn, span, g)).items()
            }
    for view in ("data_1m", "data_1h", "data_1d"):
        out[view] = conn.execute(f"SELECT * FROM {view} ORDER BY user_id, metric_name, bucket").fetchall()
    return out


def test_edition_detection_agrees_with_the_database(db: psycopg.Connection) -> None:
    edition = detect_edition(db)
    row = db.execute("SELECT fitpipe_compression_available()").fetchone()
    assert row == (edition.compression,)
    license_ = db.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    assert edition.license == (license_[0] if license_ else None)
    assert edition.name == (
        "postgresql" if edition.timescaledb is None else "full" if edition.compression else "apache"
    )


def test_the_apache_edition_is_left_as_it_was(db: psycopg.Connection, fitpipe_env: Path) -> None:
    edition = detect_edition(db)
    if edition.compression:
        pytest.skip(
            "this server has TimescaleDB's TSL module: the Apache-edition behaviour cannot be seen here"
        )
    if edition.timescaledb is not None:
        enabled = db.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE compression_enabled"
        ).fetchone()
        assert enabled == (0,)
    p, _ = add_participant(db, "A1", "apache", timezone="UTC")
    load(db, p, "heart_rate", pd.date_range(T0, periods=100, freq="5s"), np.full(100, 60.0), "hr.json")
    report = compress_old_chunks(db, FAR_FUTURE)
    assert report.chunks == [] and report.skipped and "no compression" in report.skipped
    assert db.execute(
        "SELECT count(*) FROM fitpipe_compression_candidates(%s)", (FAR_FUTURE,)
    ).fetchone() == (0,)
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        db.execute("SELECT fitpipe_compress_chunk('samples'::regclass)")
    sizes = {t.table_name: t for t in read_sizes(db)}
    assert sizes["samples"].compressed_bytes == 0 and sizes["samples"].uncompressed_bytes > 0
    result = CliRunner().invoke(cli, ["db", "compress"])
    assert result.exit_code == 0 and "nothing to compress" in result.output
    status = CliRunner().invoke(cli, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert ("Apache edition" if edition.timescaledb else "plain PostgreSQL") in status.output
    samples_line = next(line for line in status.output.splitlines() if line.strip().startswith("samples"))
    assert samples_line.split()[1].startswith("0/") and "WARNING" not in status.output


def test_a_compression_age_inside_the_lag_window_is_refused() -> None:
    settings = Settings(_env_file=None, fitpipe_compress_after_hours=48, fitpipe_ingest_lag_hours=72)
    with pytest.raises(ConfigError, match="shorter than the ingest lag window") as err:
        compression_cutoff(settings, datetime(2024, 5, 1, tzinfo=UTC))
    assert "at least 96" in (err.value.hint or "")
    ok = Settings(_env_file=None)
    assert compression_cutoff(ok, datetime(2024, 5, 8, tzinfo=UTC)) == datetime(2024, 5, 1, tzinfo=UTC)
    # a longer lag moves the default along: lag + 4 days
    long_lag = Settings(_env_file=None, fitpipe_ingest_lag_hours=240)
    assert compression_cutoff(long_lag, datetime(2024, 5, 15, tzinfo=UTC)) == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def loaded(db: psycopg.Connection, full_edition: None) -> dict[str, Participant]:
    a, _ = add_participant(db, "C1", "comp", timezone="Europe/Berlin")
    b, _ = add_participant(db, "C2", "comp", timezone="America/Chicago")
    hr = pd.date_range(T0, T0 + pd.Timedelta(days=3), freq="5s", inclusive="left")
    load(db, a, "heart_rate", hr, 60 + (np.arange(hr.size) % 50), "hr.json")
    steps = pd.date_range(T0, T0 + pd.Timedelta(days=3), freq="min", inclusive="left")
    load(db, a, "steps", steps, np.arange(steps.size) % 31, "steps.csv")
    load(db, b, "heart_rate", hr[: hr.size // 3], np.full(hr.size // 3, 72.0), "hr.json")
    return {"a": a, "b": b}


def test_compressing_changes_no_answer_and_shrinks_the_samples(
    db: psycopg.Connection, loaded: dict[str, Participant]
) -> None:
    before = _answers(db, loaded["a"])
    sizes_before = {t.table_name: t for t in read_sizes(db)}
    report = compress_old_chunks(db, FAR_FUTURE)
    assert {c.hypertable for c in report.chunks} == {"samples", "rollup_1m"}
    assert all(_chunk_states(db, "samples")) and all(_chunk_states(db, "rollup_1m"))
    assert not any(_chunk_states(db, "rollup_1h"))  # small, read index-only by adherence: never compressed
    assert _answers(db, loaded["a"]) == before
    sizes = {t.table_name: t for t in read_sizes(db)}
    samples = sizes["samples"]
    assert samples.compressed_chunks == samples.chunks == 3  # April 1, 2 and 3
    assert samples.compressed_bytes < sizes_before["samples"].total_bytes / 5
    assert samples.before_compression_bytes >= sizes_before["samples"].total_bytes * 0.9
    assert samples.compression_ratio and samples.compression_ratio > 5
    assert compress_old_chunks(db, FAR_FUTURE).chunks == []  # nothing left to do


def test_every_write_path_is_exact_on_compressed_chunks(
    db: psycopg.Connection, loaded: dict[str, Participant]
) -> None:
    a, b = loaded["a"], loaded["b"]
    compress_everything(db)
    # fast path: nothing of C2 stored in this span, but the day's chunk is compressed
    late = pd.date_range(T0 + pd.Timedelta(days=1, hours=6), periods=2000, freq="5s")
    fast = load(db, b, "heart_rate", late, np.full(late.size, 80.0), "late.json")
    assert (fast.metrics["heart_rate"].new, fast.metrics["heart_rate"].updated) == (2000, 0)
    # merge path: changed heart rate and steps inside compressed batches, a duplicate of a compressed row,
    # and a value out of range (quarantined in the same transaction)
    hr = pd.date_range(T0 + pd.Timedelta(hours=5), periods=600, freq="5s")
    values = np.where(np.arange(600) % 2 == 0, 61.0, 60 + (np.arange(600) + 5 * 720) % 50)
    values[3] = 400.0
    merged = load(db, a, "heart_rate", hr, values, "hr-fix.json")
    m = merged.metrics["heart_rate"]
    assert (m.new, m.quarantined) == (0, 1) and m.updated > 0 and m.updated + m.present == 599
    steps = pd.date_range(T0 + pd.Timedelta(days=2), periods=90, freq="min")
    s = load(db, a, "steps", steps, np.full(90, 1000.0), "steps-fix.csv").metrics["steps"]
    assert (s.new, s.updated) == (0, 90)
    assert db.execute(
        "SELECT count(*) FROM quarantine WHERE participant_id = %s AND reason LIKE '%%range%%'", (a.id,)
    ).fetchone() == (1,)
    stored = db.execute(
        "SELECT value FROM samples WHERE participant_id = %s AND metric_id = 1 AND ts = %s",
        (a.id, hr[0].to_pydatetime()),
    ).fetchone()
    assert stored == (61.0,)
    assert db.execute("SELECT count(*) FROM samples WHERE participant_id = %s", (b.id,)).fetchone() == (
        (3 * 86_400 // 5) // 3 + 2000,
    )
    for metric, pid in (("heart_rate", a.id), ("steps", a.id), ("heart_rate", b.id)):
        check_minute_layers(db, metric, pid)
    # the touched chunks are partially compressed now; the next step compresses them again, answers unchanged
    partial = db.execute(
        "SELECT hypertable, state FROM fitpipe_compression_candidates(%s)", (FAR_FUTURE,)
    ).fetchall()
    assert partial and {s for _, s in partial} == {"partial"}
    before = _answers(db, a)
    assert len(compress_old_chunks(db, FAR_FUTURE).chunks) == len(partial)
    assert _answers(db, a) == before
    check_minute_layers(db, "heart_rate", a.id)


def test_db_status_and_db_compress_report_the_full_edition(
    db: psycopg.Connection, loaded: dict[str, Participant], fitpipe_env: Path
) -> None:
    runner = CliRunner()
    chunks = len(_chunk_states(db, "samples")) + len(_chunk_states(db, "rollup_1m"))
    dry = runner.invoke(cli, ["db", "compress", "--dry-run", "--older-than-hours", "100"])
    assert dry.exit_code == 0 and "would compress" in dry.output and "(uncompressed)" in dry.output, (
        dry.output
    )
    assert not any(_chunk_states(db, "samples"))
    done = runner.invoke(cli, ["db", "compress", "--older-than-hours", "100"])
    assert done.exit_code == 0 and f"compressed {chunks} chunk(s)" in done.output, done.output
    status = runner.invoke(cli, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert "full edition (TSL module loaded: native compression)" in status.output
    samples_line = next(line for line in status.output.splitlines() if line.strip().startswith("samples"))
    assert samples_line.split()[1] == "3/3"


def test_the_process_roles_write_compress_and_read_compressed_chunks(
    db: psycopg.Connection, database_url: str, loaded: dict[str, Participant]
) -> None:
    """The ingest job and the API log in as their own roles, which own no table: the writes into compressed
    chunks, the storage step (compression, retention) and the reads must work as they do for the owner."""
    a, b = loaded["a"], loaded["b"]
    compress_everything(db)
    with psycopg.connect(role_url(database_url, INGEST), autocommit=True) as ingest:
        late = pd.date_range(T0 + pd.Timedelta(days=1, hours=6), periods=2000, freq="5s")
        fast = load(ingest, b, "heart_rate", late, np.full(late.size, 80.0), "late.json")
        assert (fast.metrics["heart_rate"].new, fast.metrics["heart_rate"].updated) == (2000, 0)
        before = _answers(db, a)
        hr = pd.date_range(T0 + pd.Timedelta(hours=5), periods=600, freq="5s")
        same = 60 + (np.arange(600) + 5 * 720) % 50  # what is stored there: an exact re-delivery
        again = load(ingest, a, "heart_rate", hr, same.astype(np.float64), "hr-again.json")
        assert (again.metrics["heart_rate"].present, again.metrics["heart_rate"].updated) == (600, 0)
        assert _answers(db, a) == before
        steps = pd.date_range(T0 + pd.Timedelta(days=2), periods=90, freq="min")
        changed = load(ingest, a, "steps", steps, np.full(90, 1000.0), "steps-fix.csv").metrics["steps"]
        assert (changed.new, changed.updated) == (0, 90)
        recompressed = compress_old_chunks(ingest, FAR_FUTURE)
        assert {c.hypertable for c in recompressed.chunks} == {"samples", "rollup_1m"}
    for metric, pid in (("steps", a.id), ("heart_rate", b.id)):
        check_minute_layers(db, metric, pid)
    with psycopg.connect(role_url(database_url, API), autocommit=True) as api:
        assert _answers(api, a) == _answers(db, a)
        sizes = {t.table_name: t for t in read_sizes(api)}
        assert sizes["samples"].compressed_chunks == sizes["samples"].chunks == 3
    # the storage step's retention, as the ingest job: study comp ended, study kept shares a chunk with it
    other, _ = add_participant(db, "K1", "kept", timezone="UTC")
    load(db, other, "heart_rate", pd.date_range(T0, periods=100, freq="5s"), np.full(100, 70.0), "k.json")
    set_retention(db, "comp", ends_on=date(2024, 4, 30), retention_days=1)
    with psycopg.connect(role_url(database_url, INGEST), autocommit=True) as ingest:
        done = apply_retention(ingest, date(2024, 6, 1), actor={"via": "test"})
    assert [(r.study, r.participants) for r in done] == [("comp", 2)]
    left = db.execute("SELECT participant_id, count(*) FROM samples GROUP BY 1").fetchall()
    assert left == [(other.id, 100)]


def test_a_streamed_file_merges_exactly_into_compressed_chunks(
    db: psycopg.Connection, database_url: str, full_edition: None
) -> None:
    """A file too big to hold is written piece by piece in one transaction (GroupLoad, staging emptied every
    few pieces); re-delivered with changed values over compressed days, it ends exactly as a whole-file load."""
    p, _ = add_participant(db, "B1", "big", timezone="Europe/Berlin")
    hr = pd.date_range(T0, T0 + pd.Timedelta(days=3), freq="5s", inclusive="left")
    first = 60 + (np.arange(hr.size) % 50).astype(np.float64)
    load(db, p, "heart_rate", hr, first, "big.json")
    compress_everything(db)
    second = first.copy()
    second[::3] += 1
    us = hr.as_unit("us").asi8.astype(np.int64)
    options = LoadOptions("test", full=True)
    pieces = np.array_split(np.arange(us.size), 3 * GroupLoad.TRUNCATE_EVERY)
    with (
        psycopg.connect(role_url(database_url, INGEST), autocommit=True) as ingest,
        ingest.transaction(),
        ingest.cursor() as cur,
    ):
        group = GroupLoad(cur, options)
        for items in pieces:
            batch = SampleBatch("heart_rate", us[items], second[items], "big.json", item=items)
            group.add(prepare(ingest, ParsedFile("big.json", "test", [batch]), {None: p}, options), "test")
            group.flush()
    counts = group.counts["heart_rate"]
    changed = int(np.ceil(us.size / 3))
    assert (counts.new, counts.updated, counts.present) == (0, changed, us.size - changed)
    stored = db.execute(
        "SELECT count(*), sum(value) FROM samples WHERE participant_id = %s", (p.id,)
    ).fetchone()
    assert stored == (us.size, float(second.sum()))
    check_minute_layers(db, "heart_rate", p.id)
    partial = db.execute(
        "SELECT hypertable, state FROM fitpipe_compression_candidates(%s)", (FAR_FUTURE,)
    ).fetchall()
    assert {h for h, _ in partial} == {"samples", "rollup_1m"} and {s for _, s in partial} == {"partial"}


# --- kill -9 while the nightly run rewrites compressed chunks ------------------------------------------
STUDY = "crashc"


@pytest.fixture(scope="module")
def two_exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same participants' export twice: as first delivered, and re-delivered with other values."""
    trees = []
    for seed in (21, 22):
        root = tmp_path_factory.mktemp(f"inbox{seed}")
        write_cohort(
            CohortOptions(
                participants=2, days=4, out=root / STUDY, format="takeout", seed=seed,
                start=date(2024, 3, 8), kinds=("excellent", "fair"), zones=("Europe/Berlin", "UTC"),
            )
        )  # fmt: skip
        trees.append(root)
    return trees[0], trees[1]


def _fitpipe_run(url: str, inbox: Path, *, full: bool = False) -> subprocess.Popen[bytes]:
    """`fitpipe run`; with full=True every row of every file is merged again (not only the lag window)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "FITPIPE_"))}
    env.update(DATABASE_URL=url, FITPIPE_INBOX=str(inbox), FITPIPE_HOME=str(inbox.parent / "home"))
    return subprocess.Popen(
        [sys.executable, "-m", "fitpipe.cli", "run", *(["--full"] if full else [])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _digest(url: str) -> dict[str, tuple[int, str]]:
    queries = {
        "samples": "SELECT participant_id, metric_id, ts, value FROM samples",
        "rollup_1m": "SELECT participant_id, metric_id, bucket, count, sum, min, max, minutes FROM rollup_1m",
        "rollup_1h": "SELECT participant_id, metric_id, bucket, count, sum, min, max, minutes FROM rollup_1h",
        "rollup_1d": "SELECT participant_id, metric_id, bucket, count, sum, min, max, minutes FROM rollup_1d",
        "cursors": "SELECT participant_id, source, metric_id, initial_value, last_value FROM ingest_cursors",
        "manifest": "SELECT participant_id, path, sha256, max_ts::text FROM ingest_files",
        "quarantine": "SELECT participant_id, file, record, field, reason FROM quarantine",
    }
    out = {}
    with psycopg.connect(url) as conn:
        for name, query in queries.items():
            row = conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ({query}) t"
            ).fetchone()
            assert row is not None
            out[name] = (int(row[0]), str(row[1]))
    return out


@pytest.mark.slow
def test_kill_9_while_rewriting_compressed_chunks_then_rerun_converges(
    pg_server_url: str, template_url: str, full_edition: None, two_exports: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = two_exports
    names: list[str] = []

    def fresh() -> tuple[str, Path]:
        """A database after the first delivery, every chunk compressed, and an inbox holding the second."""
        name = f"fitpipe_crashc_{os.getpid()}_{len(names)}"
        names.append(name)
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = make_conninfo(pg_server_url, dbname=name)
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            with (first / STUDY / "participants.csv").open() as fh:
                for row in csv.DictReader(fh):
                    add_participant(conn, row["participant_id"], STUDY, timezone=row["timezone"])
        inbox = tmp_path / name
        shutil.copytree(first, inbox)
        proc = _fitpipe_run(url, inbox)
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
        with psycopg.connect(url) as conn:  # the daily run's storage step compressed the old chunks
            states = _chunk_states(conn, "samples")
            assert states and all(states)
        shutil.rmtree(inbox)
        shutil.copytree(second, inbox)
        return url, inbox

    try:
        reference, inbox = fresh()
        started = time.monotonic()
        proc = _fitpipe_run(reference, inbox, full=True)
        _, err = proc.communicate(timeout=600)
        seconds = time.monotonic() - started
        assert proc.returncode == 0, err.decode()[-2000:]
        expected = _digest(reference)
        with psycopg.connect(reference) as conn:
            updated = conn.execute("SELECT rows_updated FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone()
            assert updated and updated[0] > 1000, "the second delivery must rewrite compressed rows"
            assert all(_chunk_states(conn, "samples"))
        rng = random.Random(15)
        killed = 0
        for point in range(3):
            url, inbox = fresh()
            proc = _fitpipe_run(url, inbox, full=True)
            delay = rng.uniform(0.3, 0.9) * seconds
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait(timeout=60)
            assert proc.stderr is not None
            proc.stderr.close()
            rerun = _fitpipe_run(url, inbox, full=True)
            _, err = rerun.communicate(timeout=600)
            assert rerun.returncode == 0, f"kill point {point} ({delay:.1f} s): {err.decode()[-2000:]}"
            assert _digest(url) == expected, (
                f"kill point {point} ({delay:.1f} s): rows differ after the rerun"
            )
        assert killed >= 2, f"only {killed} of 3 kills landed while the run was running"
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_old_day_is_compressed_but_within_the_lag_it_is_not(
    db: psycopg.Connection, full_edition: None
) -> None:
    """The nightly delta writes within the lag window: those chunks must stay uncompressed."""
    p, _ = add_participant(db, "L1", "lag", timezone="UTC")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for days_ago in (10, 2):
        ts = pd.date_range(now - timedelta(days=days_ago), periods=100, freq="5s")
        load(db, p, "heart_rate", ts, np.full(100, 60.0), f"d{days_ago}.json")
    cutoff = compression_cutoff(Settings(_env_file=None), now)
    done = compress_old_chunks(db, cutoff)
    assert "samples" in {c.hypertable for c in done.chunks}
    assert all(c.range_end <= cutoff for c in done.chunks)
    assert _chunk_states(db, "samples") == [True, False]
