"""The long CSV drop source (participant, metric, timestamp, value): placing times, daily metrics, bad rows,
one participant's rows out of a shared file, and a load through the same path as every other source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from fitpipe.participants import add_participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.load import LoadOptions
from fitpipe_ingest.pipeline.files import FileRules, ingest_tree
from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.long_csv import SOURCE
from fitpipe_ingest.tree import DirectoryTree

NY = ZoneInfo("America/New_York")

CSV = """Participant,Metric,Timestamp,Value,Device
P1,heart_rate,2026-11-10T12:00:00Z,61,oura
P1,heart_rate,2026-11-10T07:00:01-05:00,62,oura
P1,heart_rate,2026-11-10T07:00:02,63,oura
P1,steps,2026-11-10,8123,oura
P1,resting_heart_rate,2026-11-10T23:30:00,55,oura
P1,heart_rate,2026-03-08T02:30:00,70,oura
P1,mood,2026-11-10T12:00:00Z,3,oura
P1,heart_rate,2026-11-10T12:00:03Z,sixty,oura
P1,heart_rate,tomorrow,60,oura
P1,heart_rate
P2,heart_rate,2026-11-10T12:00:00Z,90,oura
"""


def _tree(tmp_path: Path, text: str = CSV, name: str = "drop.csv") -> DirectoryTree:
    (tmp_path / name).write_text(text)
    return DirectoryTree(tmp_path)


def _series(parsed: ParsedFile, metric: str, who: str | None = None) -> list[tuple[datetime, float]]:
    out = []
    for b in parsed.batches:
        if b.metric == metric and b.participant == who:
            out += [
                (datetime.fromtimestamp(t / 1e6, UTC), v)
                for t, v in zip(b.ts.tolist(), b.value.tolist(), strict=True)
            ]
    return out


def test_times_dates_and_daily_metrics_are_placed_in_the_participants_zone(tmp_path: Path) -> None:
    parsed = SOURCE.parse(_tree(tmp_path), "drop.csv", ParseContext(timezone=NY, participant="P1"))
    noon = datetime(2026, 11, 10, 12, tzinfo=UTC)
    assert _series(parsed, "heart_rate") == [
        (noon, 61.0),
        (noon + timedelta(seconds=1), 62.0),
        (noon + timedelta(seconds=2), 63.0),
    ]
    midnight = datetime(2026, 11, 10, tzinfo=NY).astimezone(UTC)
    assert _series(parsed, "steps") == [(midnight, 8123.0)]
    assert _series(parsed, "resting_heart_rate") == [(midnight, 55.0)], (
        "a daily metric lands on its local midnight"
    )


def test_bad_rows_are_rejected_with_line_field_and_reason(tmp_path: Path) -> None:
    parsed = SOURCE.parse(_tree(tmp_path), "drop.csv", ParseContext(timezone=NY, participant="P1"))
    assert sorted(
        ((r.record, r.field, r.kind) for r in parsed.rejected), key=lambda r: int(r[0].split()[1])
    ) == [
        ("line 7", "timestamp", "nonexistent_local_time"),  # 02:30 on the night New York springs forward
        ("line 8", "metric", "malformed"),
        ("line 9", "value", "not_a_number"),
        ("line 10", "timestamp", "bad_timestamp"),
        ("line 11", "line", "malformed"),
    ]
    assert "P2" not in " ".join(r.raw for r in parsed.rejected), "another participant's rows are not read"
    assert parsed.records_read == 10 and parsed.others == {"P2": 1}, "nor counted as read"


def test_without_a_participant_each_row_names_its_own(tmp_path: Path) -> None:
    parsed = SOURCE.parse(_tree(tmp_path), "drop.csv", ParseContext(timezone=ZoneInfo("UTC")))
    assert _series(parsed, "heart_rate", "P2") == [(datetime(2026, 11, 10, 12, tzinfo=UTC), 90.0)]
    assert len(_series(parsed, "heart_rate", "P1")) == 4, "in UTC, 02:30 on 8 March exists"


def test_detection_and_plan_know_long_files_from_others(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert SOURCE.detect(tree) == 1
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    plan = SOURCE.plan(DirectoryTree(tmp_path))
    assert plan.files == ["drop.csv"] and plan.unknown == ["notes.csv"]
    other = tmp_path / "other"
    other.mkdir()
    assert SOURCE.detect(_tree(other, "timestamp,value\n2026-11-10,1\n", "o.csv")) == 0


@pytest.mark.db
def test_a_shared_file_loads_each_participant_and_a_rerun_adds_nothing(
    db: psycopg.Connection, tmp_path: Path
) -> None:
    add_participant(db, "P1", "s", timezone="America/New_York")
    add_participant(db, "P2", "s", timezone="America/New_York")
    tree = _tree(tmp_path)
    options = LoadOptions(source=SOURCE.name)
    first = ingest_tree(
        db,
        tree,
        participant=None,
        study="s",
        fmt=SOURCE.name,
        options_for=lambda _: options,
        timezone=NY,
        summary=IngestSummary(),
        rules=FileRules(max_rejected_share=1.0),  # a fixture of bad rows: loaded for what is good in it
    )
    assert first.by_metric()[("heart_rate", "long_csv")].new == 4
    assert db.execute("SELECT count(*) FROM quarantine WHERE source = 'long_csv'").fetchone() == (5,)
    again = ingest_tree(
        db,
        tree,
        participant=None,
        study="s",
        fmt=SOURCE.name,
        options_for=lambda _: options,
        timezone=NY,
        summary=IngestSummary(),
        rules=FileRules(max_rejected_share=1.0),
    )
    assert again.total().new == 0 and again.total().present == first.total().new
    rows = db.execute("""SELECT p.external_id, count(*) FROM samples s JOIN participants p ON p.id = s.participant_id
                         GROUP BY 1 ORDER BY 1""").fetchall()
    assert rows == [("P1", 5), ("P2", 1)]
