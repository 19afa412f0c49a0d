"""`fitpipe run` over an inbox of several participants with broken files among good ones, on the real database:
a bad file costs only itself, a bad participant only themselves, and the run record keeps what committed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.participants import add_participant
from fitpipe.settings import reset_settings_cache
from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.long_csv.source import LongCsvSource
from fitpipe_ingest.tree import InputTree
from tests.ingest_job.exports import global_export_day, long_csv, write_zip
from tests.queries import one

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
WEARIPEDIA = FIXTURES / "wearipedia" / "challenge"
ZONE = "America/New_York"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def per_participant(url: str, study: str = "s1") -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT p.external_id, count(*) FROM samples s JOIN participants p ON p.id = s.participant_id
               JOIN studies st ON st.id = p.study_id WHERE st.name = %s GROUP BY 1 ORDER BY 1""",
            (study,),
        ).fetchall()
    return dict(rows)


def runs(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT status, participants, rows_new, errors FROM ingest_runs WHERE trigger = 'run' ORDER BY id"
        ).fetchall()


@pytest.fixture
def inbox(
    fitpipe_env: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """P1 wearipedia + a broken Takeout file; P2 long CSVs, one that crashes its parser; P3 only a stray file;
    P4 a zipped Takeout export; P5 no folder yet. Study `ref` holds the good parts alone, for comparison."""
    root = tmp_path / "inbox"
    shutil.copytree(WEARIPEDIA, root / "s1" / "P1")
    broken = root / "s1" / "P1" / "Takeout" / "Fitbit" / "Global Export Data"
    broken.mkdir(parents=True)
    (broken / "heart_rate-2024-01-02.json").write_text('[{"dateTime":"01/02/24 05:00:00","value":{"bpm"')
    (root / "s1" / "P2").mkdir(parents=True)
    long_csv(
        root / "s1" / "P2" / "drop.csv",
        [("P2", "heart_rate", f"2024-01-01T00:00:0{s}Z", str(70 + s)) for s in range(5)],
    )
    long_csv(root / "s1" / "P2" / "boom.csv", [("P2", "heart_rate", "2024-01-01T01:00:00Z", "90")])
    (root / "s1" / "P3").mkdir(parents=True)
    (root / "s1" / "P3" / "notes.txt").write_text("to do: export the data")
    (root / "s1" / "P4").mkdir(parents=True)
    write_zip(
        root / "s1" / "P4" / "takeout-2024.zip",
        {
            f"Takeout/Fitbit/Global Export Data/{name}": text.encode()
            for name, text in global_export_day(date(2024, 1, 1)).items()
        },
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name in ("P1", "P2", "P3", "P4", "P5"):
            add_participant(conn, name, "s1", timezone=ZONE)
        add_participant(conn, "P1", "ref", timezone=ZONE)
    monkeypatch.setenv("FITPIPE_INBOX", str(root))
    monkeypatch.setenv("FITPIPE_INGEST_SOURCE", "inbox")
    reset_settings_cache()

    real_parse = LongCsvSource.parse_pieces

    def parse_pieces(
        self: LongCsvSource, tree: InputTree, path: str, ctx: ParseContext
    ) -> Iterator[ParsedFile]:
        if path.endswith("boom.csv"):  # a parser bug, as one file might meet it
            raise RuntimeError("parser bug")
        return real_parse(self, tree, path, ctx)

    monkeypatch.setattr(LongCsvSource, "parse_pieces", parse_pieces)
    yield root
    reset_settings_cache()


def test_broken_files_and_participants_cost_only_themselves(inbox: Path, database_url: str) -> None:
    code, out = invoke("ingest", str(WEARIPEDIA), "--participant", "P1", "--study", "ref")
    assert code == 0, out
    reference = per_participant(database_url, "ref")["P1"]

    code, out = invoke("run", "--study", "s1")
    assert code == 6, out
    assert "Traceback" not in out
    assert (
        "FAILED Takeout/Fitbit/Global Export Data/heart_rate-2024-01-02.json: " in out
        and "invalid JSON" in out
    )
    assert (
        "FAILED boom.csv: unexpected error while reading it (RuntimeError: parser bug); please report this"
        in out
    )
    assert (
        "FAILED participant s1/P3: nothing was loaded from their inbox: notes.txt: not a file fitpipe reads "
        "(text starting 'to do: export the data', 22 bytes)" in out
    )
    assert "participants: 5 active, 1 without data yet, 1 failed" in out
    assert "3 participant(s) or file(s) failed" in out
    stored = per_participant(database_url)
    assert stored["P1"] == reference, "everything of P1's good files, nothing of the broken one"
    assert stored["P2"] == 5 and "P3" not in stored
    assert stored["P4"] == 120 + 3 * 30 + 2, (
        "heart rate, steps, calories, distance per minute, 2 daily values"
    )
    assert runs(database_url) == [("partial", 4, sum(stored.values()), 3)]

    code, out = invoke("run", "--study", "s1")
    assert code == 6, out
    assert per_participant(database_url) == stored, "a rerun adds nothing"
    assert runs(database_url)[-1] == ("partial", 4, 0, 3)


def test_a_run_that_fails_outside_the_files_keeps_the_counts_that_committed(
    inbox: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the live pass broke")

    monkeypatch.setenv("FITPIPE_INGEST_SOURCE", "all")
    reset_settings_cache()
    monkeypatch.setattr("fitpipe_ingest.pipeline.daily.sync_google_health", down)
    result = CliRunner().invoke(cli, ["run", "--study", "s1"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)
    stored = sum(per_participant(database_url).values())
    assert stored > 0
    with psycopg.connect(database_url) as conn:
        status, rows_new, error = one(
            conn, "SELECT status, rows_new, error FROM ingest_runs WHERE trigger = 'run'"
        )
    assert (status, rows_new) == ("failed", stored)
    assert error.startswith("RuntimeError: the live pass broke")
