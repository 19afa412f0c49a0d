"""A big file streamed through the loader in pieces stores exactly what a whole-file load stores, and is still
all or nothing: a file refused at its end leaves nothing of its earlier pieces."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.participants import add_participant
from fitpipe.settings import reset_settings_cache
from tests.ingest_job.exports import fitabase_time

pytestmark = pytest.mark.db

IDS = ("1503960366", "1624580081", "2022484408")


def write_export(path: Path, bad_every: int = 0) -> tuple[int, int]:
    """Three participants through New York's repeated hour of 2024-11-03, a bad line now and then; returns
    (good lines, bad lines)."""
    lines = ["Id,Time,Value"]
    start = datetime(2024, 11, 3, 0, 40)
    bad = 0
    for pid in IDS:
        times = [start + timedelta(seconds=1 * i) for i in range(8000)]
        times += [
            datetime(2024, 11, 3, 1, m, 30) for m in range(0, 60, 3)
        ]  # the repeat, as a device writes it
        for i, t in enumerate(times):
            lines.append(f"{pid},{fitabase_time(t)},{60 + i % 70}")
            if bad_every and i % bad_every == 0:
                lines.append(f"{pid},{fitabase_time(t)},n/a")
                bad += 1
    path.write_text("\r\n".join(lines) + "\r\n\r\n")
    return len(lines) - 1 - bad, bad


def snapshot(url: str, study: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything a load writes for one study's participants, without ids or wall-clock times."""
    tables = {
        "samples": ("samples", "x.ts, x.value"),
        "rollup_1m": ("rollup_1m", "x.bucket, x.count, x.sum, x.min, x.max"),
        "rollup_1d": ("rollup_1d", "x.bucket, x.count, x.sum, x.minutes"),
        "quarantine": ("quarantine", "x.record, x.field, x.reason, x.raw"),
        "cursors": ("ingest_cursors", "x.initial_value, x.last_value"),
    }
    with psycopg.connect(url) as conn:
        return {
            name: sorted(
                conn.execute(
                    f"SELECT p.external_id, {columns} FROM {table} x JOIN participants p ON p.id = x.participant_id"
                    " JOIN studies st ON st.id = p.study_id WHERE st.name = %s",
                    (study,),
                ).fetchall()
            )
            for name, (table, columns) in tables.items()
        }


@pytest.fixture
def studies(fitpipe_env: Path, database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for study in ("whole", "streamed"):
            for pid in IDS:
                add_participant(conn, pid, study, timezone="America/New_York")
    return database_url


def ingest(folder: Path, study: str, monkeypatch: pytest.MonkeyPatch, streamed: bool) -> tuple[int, str]:
    if streamed:
        monkeypatch.setenv("FITPIPE_INGEST_HOLD_BYTES", "0")
        monkeypatch.setenv("FITPIPE_INGEST_CHUNK_BYTES", str(1 << 16))
    else:
        monkeypatch.delenv("FITPIPE_INGEST_HOLD_BYTES", raising=False)
        monkeypatch.delenv("FITPIPE_INGEST_CHUNK_BYTES", raising=False)
    reset_settings_cache()
    result = CliRunner().invoke(
        cli, ["ingest", str(folder), "--study", study, "--timezone", "America/New_York"]
    )
    return result.exit_code, result.output


def test_pieces_store_exactly_what_a_whole_file_load_stores(
    studies: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = write_export(tmp_path / "heartrate_seconds_merged.csv", bad_every=97)
    assert (tmp_path / "heartrate_seconds_merged.csv").stat().st_size > 10 * (1 << 16), "pieces of 64 KiB"
    assert ingest(tmp_path, "whole", monkeypatch, streamed=False)[0] == 0
    code, out = ingest(tmp_path, "streamed", monkeypatch, streamed=True)
    assert code == 0, out
    whole, streamed = snapshot(studies, "whole"), snapshot(studies, "streamed")
    # the repeated hour's second pass lands on new instants; a repeat of a first-pass instant counts once
    assert len(whole["samples"]) == good and len(whole["quarantine"]) == bad == 3 * 83
    assert streamed == whole


def test_a_streamed_file_refused_at_its_end_leaves_nothing_of_its_pieces(
    studies: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = write_export(
        tmp_path / "heartrate_seconds_merged.csv", bad_every=5
    )  # spread over every piece
    code, out = ingest(tmp_path, "streamed", monkeypatch, streamed=True)
    assert code == 6, out
    assert f"FAILED heartrate_seconds_merged.csv: {bad:,} of {good + bad:,} records rejected (17%)" in out
    assert snapshot(studies, "streamed") == {
        "samples": [],
        "rollup_1m": [],
        "rollup_1d": [],
        "quarantine": [],
        "cursors": [],
    }
