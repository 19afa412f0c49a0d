"""Per-study retention: after a study's end plus its retention days, its participants are erased; chunks that
hold only them are dropped whole, chunks shared with another study lose only their rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.participants import Participant, add_participant
from fitpipe.storage import apply_retention, list_retention, set_retention
from fitpipe.storage.edition import detect_edition
from tests.fitpipe.storage.conftest import compress_everything, digest_of, load, rows_of

pytestmark = pytest.mark.db


def _chunks(conn: psycopg.Connection, table: str) -> int:
    if detect_edition(conn).timescaledb is None:
        return 0
    row = conn.execute(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = %s", (table,)
    ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def studies(db: psycopg.Connection, fitpipe_env: Path) -> dict[str, Participant]:
    """Study `old` (two participants, 2024-01-01..04) and study `new` (one, 2024-01-03..06): samples chunks
    of Jan 1-2 hold only `old`, Jan 3 both, Jan 5-6 only `new`."""
    people = {}
    for ext, study, start in (
        ("O1", "old", "2024-01-01"),
        ("O2", "old", "2024-01-01"),
        ("N1", "new", "2024-01-03"),
    ):
        p, _ = add_participant(db, ext, study, timezone="UTC")
        ts = pd.date_range(start, periods=3 * 86_400 // 30, freq="30s", tz="UTC")
        load(db, p, "heart_rate", ts, 60 + np.arange(ts.size) % 9, f"{ext}.json")
        people[ext] = p
    compress_everything(db)
    return people


def test_nothing_happens_before_the_retention_ends(
    db: psycopg.Connection, studies: dict[str, Participant]
) -> None:
    set_retention(db, "old", ends_on=date(2024, 1, 4), retention_days=30)
    assert [r.erase_after for r in list_retention(db) if r.study == "old"] == [date(2024, 2, 3)]
    assert apply_retention(db, date(2024, 2, 3), actor={"via": "test"}) == []
    assert rows_of(db, studies["O1"].id)["samples"] > 0


def test_retention_erases_the_study_drops_its_own_chunks_and_spares_the_other(
    db: psycopg.Connection, studies: dict[str, Participant]
) -> None:
    kept = digest_of(db, studies["N1"].id)
    samples_chunks = _chunks(db, "samples")
    set_retention(db, "old", ends_on=date(2024, 1, 4), retention_days=30)
    [result] = apply_retention(db, date(2024, 2, 4), actor={"via": "test"})
    assert (result.study, result.participants) == ("old", 2)
    for who in ("O1", "O2"):
        assert {t: n for t, n in rows_of(db, studies[who].id).items() if n and t != "audit_log"} == {}
    assert digest_of(db, studies["N1"].id) == kept
    if detect_edition(db).timescaledb is None:
        assert result.chunks_dropped == 0  # plain PostgreSQL: DELETE only
    else:
        # samples: Jan 1 and 2 held only `old`; Jan 3 is shared (rows deleted); rollup_1d/1h chunks are shared
        assert _chunks(db, "samples") == samples_chunks - 2
        assert result.chunks_dropped >= 2
    actions = db.execute(
        "SELECT detail ->> 'reason', count(*) FROM audit_log WHERE action = 'erase_participant' GROUP BY 1"
    ).fetchall()
    assert actions == [("retention", 2)]
    # applying again finds nobody left to erase
    assert [(r.study, r.participants) for r in apply_retention(db, date(2024, 2, 5), actor={})] == [
        ("old", 0)
    ]


def test_retention_commands(db: psycopg.Connection, studies: dict[str, Participant]) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["retention", "set", "old", "--ends-on", "2024-01-04", "--keep-days", "10"])
    assert out.exit_code == 0 and "erased after 2024-01-14" in out.output, out.output
    shown = runner.invoke(cli, ["retention", "show"])
    assert "2024-01-14" in shown.output
    dry = runner.invoke(cli, ["retention", "apply", "--today", "2024-01-20"])
    assert dry.exit_code == 0 and "add --yes" in dry.output
    assert rows_of(db, studies["O1"].id)["samples"] > 0
    done = runner.invoke(cli, ["retention", "apply", "--today", "2024-01-20", "--yes"])
    assert done.exit_code == 0, done.output
    assert rows_of(db, studies["O1"].id)["samples"] == 0
    assert runner.invoke(cli, ["retention", "set", "old"]).exit_code == 2  # needs both options or --clear
    cleared = runner.invoke(cli, ["retention", "set", "old", "--clear"])
    assert "no retention" in cleared.output
    assert runner.invoke(cli, ["retention", "set", "nope", "--clear"]).exit_code == 4
