"""`fitpipe run`, the daily job: every active participant's inbox folder, then every participant who consented
to the Google Health API, recorded as one run (see runs.py for how a run's end is recorded)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from fitpipe.db import connect
from fitpipe.errors import FitpipeError
from fitpipe.migrations import check_schema_current
from fitpipe.participants import Participant
from fitpipe.settings import Settings, get_settings
from fitpipe.storage import CompressedChunk, MaintenanceReport, maintain_storage
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.run import Outcome, SyncOptions, SyncReport
from fitpipe_ingest.google_health.sync import sync_google_health
from fitpipe_ingest.pipeline.files import FileCallback
from fitpipe_ingest.pipeline.inbox import InboxResult, ingest_inbox
from fitpipe_ingest.pipeline.memory import bound_memory
from fitpipe_ingest.pipeline.options import RunOptions
from fitpipe_ingest.pipeline.outcome import RunOutcome
from fitpipe_ingest.pipeline.runs import RunRecorder, run_status

__all__ = ["daily_run"]


def daily_run(
    url: str,
    *,
    study: str | None = None,
    full: bool = False,
    settings: Settings | None = None,
    on_participant: Callable[[Participant, int, int], None] | None = None,
    on_file: FileCallback | None = None,
    on_outcome: Callable[[Outcome, int, int], None] | None = None,
    on_chunk: Callable[[CompressedChunk, int, int], None] | None = None,
) -> RunOutcome:
    settings = settings or get_settings()
    use_inbox = settings.fitpipe_ingest_source in ("all", "inbox")
    use_live = settings.fitpipe_ingest_source in ("all", "googleHealthApi")
    bound_memory()
    with connect(url, autocommit=True) as conn:
        check_schema_current(conn)
        inbox = InboxResult(IngestSummary())
        summary = inbox.summary
        with RunRecorder(url, "run", summary) as recorder:
            options = RunOptions(full=full, run_id=recorder.id, settings=settings)
            live = SyncReport()
            started = time.perf_counter()
            if use_inbox:
                ingest_inbox(
                    conn,
                    settings.inbox,
                    options,
                    inbox,
                    study=study,
                    on_participant=on_participant,
                    on_file=on_file,
                    after_participant=recorder.progress,
                )

            def synced(outcome: Outcome, done: int, total: int) -> None:
                if on_outcome:
                    on_outcome(outcome, done, total)
                recorder.progress(summary)

            if use_live:
                live = sync_google_health(
                    url,
                    summary=summary,
                    study=study,
                    on_outcome=synced,
                    options=SyncOptions(
                        lag=settings.ingest_lag,
                        run_id=recorder.id,
                        chunk_rows=settings.fitpipe_chunk_rows,
                    ),
                )
            summary.seconds = time.perf_counter() - started
            errors = [f"participant {k}: {v}" for k, v in inbox.participants_failed.items()]
            errors += [f"{f.file}: {f.error}" for f in summary.failed]
            errors += live.error_lines()
            status = run_status(summary, len(errors), committed_elsewhere=bool(live.with_status("synced")))
            participant_lines = [e for e in errors if e.startswith("participant ")] + live.error_lines()
            recorder.finish(summary, status, "\n".join(participant_lines) or None)
        storage, storage_error = _storage_step(conn, settings, on_chunk)
    return RunOutcome(
        recorder.id,
        status,
        summary,
        participants_total=inbox.participants_total,
        participants_without_data=inbox.participants_without_data,
        participants_failed=inbox.participants_failed,
        live=live,
        errors=errors,
        storage=storage,
        storage_error=storage_error,
    )


def _storage_step(
    conn: psycopg.Connection,
    settings: Settings,
    on_chunk: Callable[[CompressedChunk, int, int], None] | None,
) -> tuple[MaintenanceReport | None, str | None]:
    """After the loads: retention, then compression of chunks older than the lag window plus a margin.
    A failure here is reported and counted, never hides the run's own result."""
    try:
        return (
            maintain_storage(
                conn, settings, datetime.now(UTC), actor={"via": "daily run"}, on_chunk=on_chunk
            ),
            None,
        )
    except (FitpipeError, psycopg.Error) as exc:
        return None, getattr(exc, "message", None) or str(exc)
