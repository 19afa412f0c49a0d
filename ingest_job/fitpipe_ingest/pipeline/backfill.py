"""`fitpipe backfill`: a participant's Google Health history from a date (resumable, window by window), or the
intervals webhook notifications announced, for everyone; recorded as a run like the others."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from fitpipe.db import connect
from fitpipe.google_health.datatypes import DataType
from fitpipe.google_health.windows import Window
from fitpipe.migrations import check_schema_current
from fitpipe.participants import get_participant
from fitpipe.settings import get_settings
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.backfill import backfill as pull_history
from fitpipe_ingest.google_health.backfill import pull_notified
from fitpipe_ingest.google_health.run import SyncOptions
from fitpipe_ingest.pipeline.outcome import RunOutcome
from fitpipe_ingest.pipeline.runs import RunRecorder, run_status

__all__ = ["backfill", "WindowCallback"]

WindowCallback = Callable[[str, DataType, Window, int, int], None]
"""(participant, data type, window, windows done, windows planned): progress of a history pull."""


def backfill(
    url: str,
    *,
    participant: str | None,
    study: str | None = None,
    since: date | None = None,
    until: date | None = None,
    data_types: tuple[str, ...] = (),
    on_window: WindowCallback | None = None,
) -> RunOutcome:
    """With a participant: their history from `since`; without: every notified interval."""
    settings = get_settings()
    with connect(url, autocommit=True) as conn:
        check_schema_current(conn)
        who = get_participant(conn, participant, study) if participant else None
    started = time.perf_counter()
    summary = IngestSummary()
    with RunRecorder(url, "backfill", summary) as recorder:
        options = SyncOptions(
            lag=settings.ingest_lag,
            run_id=recorder.id,
            data_types=data_types or None,
            chunk_rows=settings.fitpipe_chunk_rows,
        )
        if who is None:
            report = pull_notified(url, summary=summary, options=options, study=study)
        else:
            assert since is not None

            def progress(data_type: DataType, window: Window, done: int, total: int) -> None:
                if on_window:
                    on_window(who.external_id, data_type, window, done, total)
                recorder.progress(summary)

            report = pull_history(
                url, who, since=since, until=until, summary=summary, options=options, on_window=progress
            )
        summary.seconds = time.perf_counter() - started
        errors = report.error_lines() + [
            f"participant {o.name}: needs re-consent: {o.message}"
            for o in report.with_status("needs_reconsent")
        ]
        status = run_status(summary, len(errors), committed_elsewhere=bool(report.with_status("synced")))
        recorder.finish(summary, status, "\n".join(errors) or None)
    return RunOutcome(recorder.id, status, summary, live=report, errors=errors)
