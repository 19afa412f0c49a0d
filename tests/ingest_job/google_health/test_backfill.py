"""Backfills: history from a date, window by window; interrupted and run again, they continue where they stopped
without fetching done windows again, and end with every point stored once. Also through `fitpipe backfill`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import COMMANDS, cli
from fitpipe.google_health.settings import reset_google_health_settings
from fitpipe.google_health.tokens import generate_key
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.backfill import backfill
from fitpipe_ingest.google_health.run import SyncOptions
from fitpipe_ingest.google_health.source import GoogleHealthSource
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth
from tests.fakes.google_health_fixtures import NOW, enrol, grant

from .conftest import rollup_count, stored

pytestmark = pytest.mark.db

SINCE = date(2026, 10, 1)


class Interrupted(BaseException):
    pass


def _history(fake: FakeGoogleHealth, user: str) -> list[dict]:
    start = datetime.combine(SINCE, datetime.min.time(), tzinfo=UTC)
    days = (NOW - start).days
    steps = hp.steps(start, days * 1440, count=lambda i: (i * 7) % 50)
    fake.add_points(user, "steps", steps)
    return steps


def _filter_days(fake: FakeGoogleHealth, since: int = 0) -> list[str]:
    days = []
    for r in fake.requests(path="/steps/")[since:]:
        start = re.search(r'>= "([0-9-]+)T', r.params["filter"])
        assert start is not None, r.params["filter"]
        days.append(start.group(1))
    return days


def test_an_interrupted_backfill_resumes_where_it_stopped(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    source: GoogleHealthSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = enrol(db, "P1", timezone="UTC")
    grant(db, source.cipher, fake, p, "alice")
    steps = _history(fake, "alice")
    options = SyncOptions(now=NOW, data_types=("steps",))
    real_get, calls = source.api.get, {"n": 0}

    def interrupted_get(path: str, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise Interrupted
        return real_get(path, **kwargs)

    monkeypatch.setattr(source.api, "get", interrupted_get)
    with pytest.raises(Interrupted):
        backfill(
            database_url, p, since=SINCE, until=None, summary=IngestSummary(), options=options, source=source
        )
    done = db.execute("SELECT done_until, finished_at FROM google_health_backfills").fetchone()
    assert done is not None and done[1] is None and SINCE < done[0] < NOW.date()
    loaded = stored(db, p, "steps")
    assert (
        loaded[-1][0]
        < datetime.combine(done[0], datetime.min.time(), tzinfo=UTC)
        <= loaded[-1][0] + timedelta(minutes=1)
    )

    monkeypatch.setattr(source.api, "get", real_get)
    before = len(fake.requests(path="/steps/"))
    report = backfill(
        database_url, p, since=SINCE, until=None, summary=IngestSummary(), options=options, source=source
    )

    assert [o.status for o in report.outcomes] == ["synced"]
    assert min(_filter_days(fake, before)) == done[0].isoformat(), "done windows are not fetched again"
    today = datetime.combine(NOW.date(), datetime.min.time(), tzinfo=UTC)
    expected = [
        s for s in steps if s["steps"]["interval"]["startTime"] < today.strftime("%Y-%m-%dT%H:%M:%SZ")
    ]
    assert len(stored(db, p, "steps")) == rollup_count(db, p, "steps") == len(expected), (
        "today is left to the nightly sync"
    )
    assert db.execute(
        "SELECT done_until, finished_at IS NOT NULL FROM google_health_backfills"
    ).fetchone() == (NOW.date(), True)

    again = len(fake.requests(path="/steps/"))
    backfill(
        database_url, p, since=SINCE, until=None, summary=IngestSummary(), options=options, source=source
    )
    assert len(fake.requests(path="/steps/")) == again, "a finished backfill fetches nothing"


def test_fitpipe_backfill_pulls_history_and_records_a_run(
    db: psycopg.Connection,
    database_url: str,
    fake: FakeGoogleHealth,
    fitpipe_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FITPIPE_TOKEN_KEY", generate_key())
    reset_google_health_settings()
    from fitpipe.google_health.settings import get_google_health_settings

    source = GoogleHealthSource.create(get_google_health_settings())
    try:
        p = enrol(db, "P1", timezone="UTC")
        grant(db, source.cipher, fake, p, "alice")
    finally:
        source.close()
    steps = hp.steps(datetime(2026, 10, 20, tzinfo=UTC), 3 * 1440)
    fake.add_points("alice", "steps", steps)

    monkeypatch.setitem(COMMANDS, "backfill", "fitpipe.cli.backfill:backfill")  # as the lead will register it
    result = CliRunner().invoke(
        cli,
        [
            "backfill",
            "--participant",
            "P1",
            "--since",
            "2026-10-20",
            "--until",
            "2026-10-23",
            "--data-type",
            "steps",
        ],
    )
    assert result.exit_code == 0, result.output
    windows = re.findall(r"P1 steps: (\S+)\.\.(\S+) \((\d+)/(\d+)\)", result.output)
    assert windows[0][0] <= "2026-10-20" and windows[-1][1] == "2026-10-23", (
        "aligned windows, the last cut at --until"
    )
    assert len(stored(db, p, "steps")) == len(steps)
    row = db.execute("SELECT trigger, status, rows_new FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone()
    assert row == ("backfill", "success", len(steps))

    result = CliRunner().invoke(cli, ["backfill", "--participant", "P1"])
    assert result.exit_code == 6 and "needs --participant and --since" in result.output
    reset_google_health_settings()
