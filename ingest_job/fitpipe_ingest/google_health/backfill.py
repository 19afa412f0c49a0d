"""`fitpipe backfill`: a participant's history from a date, window by window, resumable after interruption;
and draining queued webhook notifications between nightly runs (`fitpipe backfill --notified`).

Windows are the nightly sync's (aligned local days), loaded oldest first; each window's load and the
backfill's `done_until` commit together, so a rerun with the same --since starts where the last one
stopped. The API's budgets apply as in the nightly run (300 requests/min per participant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import partial

import psycopg

from fitpipe.db import connect
from fitpipe.google_health.datatypes import DataType
from fitpipe.google_health.grants import TokenSource
from fitpipe.google_health.notifications import notified_participants
from fitpipe.google_health.settings import GoogleHealthSettings, get_google_health_settings
from fitpipe.google_health.windows import Window, local_midnight, windows_between
from fitpipe.participants import Participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.notified import pull_notifications
from fitpipe_ingest.google_health.run import Outcome, RunSink, SyncOptions, SyncReport, run_pool
from fitpipe_ingest.google_health.source import GoogleHealthSource
from fitpipe_ingest.google_health.state import (
    advance_backfill,
    backfill_progress,
    finish_backfill,
    load_window,
)
from fitpipe_ingest.google_health.sync import consented_participants, data_types_of

__all__ = ["backfill", "backfill_participant", "backfill_windows", "pull_notified", "WindowCallback"]

WindowCallback = Callable[[DataType, Window, int, int], None]
"""(data type, window just loaded, windows done of this type, windows of this type): progress."""


def backfill_windows(
    data_type: DataType, done_until: date, until: date, participant: Participant
) -> list[Window]:
    """The aligned windows from done_until up to `until` (exclusive), the last one cut at `until`."""
    zone = participant.zone
    found = windows_between(data_type, local_midnight(done_until, zone), local_midnight(until, zone), zone)
    return [replace(w, end_day=min(w.end_day, until)) for w in found]


def backfill_participant(
    conn: psycopg.Connection,
    source: GoogleHealthSource,
    participant: Participant,
    options: SyncOptions,
    sink: RunSink,
    outcome: Outcome,
    tokens: TokenSource,
    *,
    since: date,
    until: date | None,
    on_window: WindowCallback | None = None,
) -> None:
    today = options.clock_now().astimezone(participant.zone).date()
    end = min(until or today, today)  # today is the nightly sync's: a backfill only pulls whole past days
    for data_type in data_types_of(conn, participant, options):
        done = backfill_progress(conn, participant.id, data_type, since, end, options.run_id)
        windows = backfill_windows(data_type, done, end, participant)
        for i, window in enumerate(windows, 1):
            points = source.fetch_window(participant.id, tokens, window, options.clock_now())
            load = load_window(
                conn,
                participant,
                window,
                points,
                options.load_options(),
                advance=advance_backfill(participant.id, data_type, since, window.end_day, options.run_id),
            )
            sink.record(participant, outcome, load)
            if on_window is not None:
                on_window(data_type, window, i, len(windows))
        finish_backfill(conn, participant.id, data_type, since)


def _source(
    settings: GoogleHealthSettings | None, source: GoogleHealthSource | None
) -> tuple[GoogleHealthSource, bool]:
    if source is not None:
        return source, False
    return GoogleHealthSource.create(settings or get_google_health_settings()), True


def _report(source: GoogleHealthSource, outcomes: list[Outcome], summary: IngestSummary) -> SyncReport:
    report = SyncReport(
        outcomes=outcomes,
        api=source.api.stats.as_dict(),
        token_refresh_failures=source.take_refresh_failures(),
    )
    report.merge_into(summary)
    return report


def backfill(
    url: str,
    participant: Participant,
    *,
    since: date,
    until: date | None,
    summary: IngestSummary,
    options: SyncOptions,
    settings: GoogleHealthSettings | None = None,
    source: GoogleHealthSource | None = None,
    on_window: WindowCallback | None = None,
) -> SyncReport:
    """Backfill one participant (raises ConfigError when the OAuth client or token key is missing)."""
    source, own = _source(settings, source)
    try:
        work = partial(backfill_participant, since=since, until=until, on_window=on_window)
        outcomes = run_pool(url, source, [participant], options, RunSink(summary), work=work, concurrency=1)
        return _report(source, outcomes, summary)
    finally:
        if own:
            source.close()


def _notified_only(
    conn: psycopg.Connection,
    source: GoogleHealthSource,
    participant: Participant,
    options: SyncOptions,
    sink: RunSink,
    outcome: Outcome,
    tokens: TokenSource,
) -> None:
    pull_notifications(conn, source, participant, tokens, options, sink, outcome)


def pull_notified(
    url: str,
    *,
    summary: IngestSummary,
    options: SyncOptions,
    study: str | None = None,
    settings: GoogleHealthSettings | None = None,
    source: GoogleHealthSource | None = None,
) -> SyncReport:
    """The targeted pulls of every queued notification (of consented participants)."""
    with connect(url, autocommit=True) as conn:
        wanted = set(notified_participants(conn, study))
        participants = [p for p in consented_participants(conn, study) if p.id in wanted]
    if not participants:
        report = SyncReport()
        report.merge_into(summary)
        return report
    source, own = _source(settings, source)
    try:
        outcomes = run_pool(url, source, participants, options, RunSink(summary), work=_notified_only)
        return _report(source, outcomes, summary)
    finally:
        if own:
            source.close()
