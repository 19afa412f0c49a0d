"""Erasing a participant: nothing of theirs remains in any table (compressed chunks too on the full edition),
the tombstone and the audit trail are what the docs promise, and everyone else's data is untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.errors import ConflictError, InputError
from fitpipe.participants import Participant, get_participant, update_participant
from fitpipe.storage import detect_edition
from tests.fitpipe.storage.conftest import compress_everything, digest_of, load, populate, rows_of

pytestmark = pytest.mark.db

# The keys the audit log's detail may hold for an erased participant: request parameters, never values.
AUDIT_KEYS = {"metrics", "start", "end", "granularity", "format", "impute", "study", "participants",
              "reasons", "status", "forced", "source", "scopes", "via", "os_user", "external_id", "rows",
              "reason", "on_day"}  # fmt: skip


@pytest.fixture
def two(db: psycopg.Connection, fitpipe_env: Path) -> tuple[Participant, Participant, Path]:
    gone = populate(db, "P1", "s", "2024-05-01T00:00:00Z", email="p1@example.org")
    kept = populate(db, "P2", "s", "2024-05-01T12:00:00Z", email="p2@example.org")
    compressed = compress_everything(db)  # 0 on the Apache edition: everything stays uncompressed
    assert (compressed > 0) == detect_edition(db).compression
    inbox = fitpipe_env / "inbox" / "s"
    for who in ("P1", "P2"):
        (inbox / who).mkdir(parents=True)
        (inbox / who / "export.csv").write_text("time,bpm\n")
    return gone, kept, inbox


def test_erase_leaves_nothing_of_the_participant_in_any_table(
    db: psycopg.Connection, two: tuple[Participant, Participant, Path]
) -> None:
    gone, kept, inbox = two
    before = rows_of(db, gone.id)
    assert all(n > 0 for n in before.values()), before
    kept_before = digest_of(db, kept.id)

    result = CliRunner().invoke(cli, ["participants", "erase", "P1", "--study", "s", "--yes"])
    assert result.exit_code == 0, result.output

    after = rows_of(db, gone.id)
    assert {t: n for t, n in after.items() if t != "audit_log" and n} == {}
    tomb = db.execute(
        "SELECT external_id, email, timezone, enrolment_start, enrolment_end, status, erased_at IS NOT NULL "
        "FROM participants WHERE id = %s",
        (gone.id,),
    ).fetchone()
    assert tomb == ("P1", None, "UTC", None, None, "withdrawn", True)
    audit = db.execute(
        "SELECT action, detail, token_id FROM audit_log WHERE participant_id = %s ORDER BY id", (gone.id,)
    ).fetchall()
    assert [a[0] for a in audit] == ["read_timeseries", "erase_participant"]
    erase_detail = audit[-1][1]
    assert erase_detail["via"] == "cli" and erase_detail["external_id"] == "P1"
    assert erase_detail["rows"]["samples"] == before["samples"]
    assert erase_detail["rows"]["sleep_stages"] == before["sleep_stages"] == 2
    for _, detail, _ in audit:
        assert set(detail) <= AUDIT_KEYS, detail
    assert digest_of(db, kept.id) == kept_before  # P2 untouched
    assert not (inbox / "P1").exists() and (inbox / "P2" / "export.csv").exists()
    assert "recorded in the audit log" in result.output


def test_erasing_again_is_harmless_and_nothing_can_bring_the_data_back(
    db: psycopg.Connection, two: tuple[Participant, Participant, Path]
) -> None:
    gone, _, _ = two
    runner = CliRunner()
    assert runner.invoke(cli, ["participants", "erase", "P1", "--study", "s", "--yes"]).exit_code == 0
    again = runner.invoke(cli, ["participants", "erase", "P1", "--study", "s", "--yes"])
    assert again.exit_code == 0 and "already erased" in again.output
    erased = get_participant(db, "P1", "s")
    ts = pd.date_range("2024-06-01", periods=10, freq="5s", tz="UTC")
    with pytest.raises(InputError, match="P1 of study s was erased"):
        load(db, erased, "heart_rate", ts, np.full(10, 70.0), "late.json")
    with pytest.raises(ConflictError, match="tombstone"):
        update_participant(db, erased, status="active")
    assert db.execute("SELECT count(*) FROM samples WHERE participant_id = %s", (gone.id,)).fetchone() == (0,)


def test_without_yes_nothing_is_erased(
    db: psycopg.Connection, two: tuple[Participant, Participant, Path]
) -> None:
    gone, _, inbox = two
    before = rows_of(db, gone.id)
    result = CliRunner().invoke(cli, ["participants", "erase", "P1", "--study", "s"])
    assert result.exit_code == InputError.exit_code
    assert "would be erased" in result.output and "add --yes" in result.output
    assert rows_of(db, gone.id) == before and (inbox / "P1").exists()


def test_the_daily_run_removes_the_inbox_of_a_participant_erased_through_the_api(
    db: psycopg.Connection, two: tuple[Participant, Participant, Path]
) -> None:
    gone, _, inbox = two
    from fitpipe.storage import erase_participant

    erase_participant(db, gone, actor={"via": "api"})
    assert (inbox / "P1").exists()
    result = CliRunner().invoke(cli, ["run"])
    assert "removed the inbox folder of an erased participant" in result.output, result.output
    assert not (inbox / "P1").exists() and (inbox / "P2").exists()
