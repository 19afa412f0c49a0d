"""Recording runs in `ingest_runs` (ingest, run, backfill): one recorder, one rule for how a run ended.

The recorder writes on a connection of its own, so progress is visible while files load, and it
records every end itself: the use-case calls finish() with success, partial or failed; an exception
that leaves the `with RunRecorder(...)` block is recorded by the recorder as failed, or aborted (Ctrl-C,
SIGTERM, the database going away), with the counts of everything that did commit (the run's summary),
the moment it happens when the database can still be reached. A running run holds a session advisory lock on its id; the next run tries that lock
for every run still marked 'running': if it gets it, the process that owned the run is gone (kill -9,
OOM, node loss, a database that could not be reached to say so) and the run is marked 'aborted'.

What a run counted is stored typed (sql/0010_run_outcomes.sql): files per status and sleep sessions as
columns of `ingest_runs`, samples per (metric, source) in `ingest_run_metrics`, quarantined records per
reason in `ingest_run_quarantine`, failed token refreshes per study in `ingest_run_token_failures`, each
write one transaction. `details` keeps the same counts as JSON for the previous release's API until a
contract step drops them.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

import psycopg

from fitpipe.db import connect
from fitpipe.errors import FitpipeError
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.pipeline.errors import database_lost

__all__ = ["RunRecorder", "RunRow", "RUN_LOCK", "run_status", "latest_runs"]

RUN_LOCK = 0x6671
log = logging.getLogger(__name__)


def run_status(summary: IngestSummary, failures: int, committed_elsewhere: bool = False) -> str:
    """success without failures; partial when something failed but something else was stored or found
    unchanged; failed when nothing was."""
    if failures == 0:
        return "success"
    if committed_elsewhere or summary.stored_or_found() or summary.with_status("loaded"):
        return "partial"
    return "failed"


class RunRecorder:
    """One run's record, from its start to its end: `with RunRecorder(url, trigger, summary) as run:`."""

    def __init__(self, url: str, trigger: str, summary: IngestSummary | None = None) -> None:
        self.url = url
        self.summary = summary if summary is not None else IngestSummary()
        """What the run has committed so far: the counts an interrupted run is recorded with."""
        self._ctx = connect(url, autocommit=True)
        self.conn: psycopg.Connection = self._ctx.__enter__()
        self.trigger = trigger
        self.aborted_previous = self._abort_orphans()
        row = self.conn.execute(
            "INSERT INTO ingest_runs (trigger) VALUES (%s) RETURNING id", (trigger,)
        ).fetchone()
        assert row is not None
        self.id = int(row[0])
        self.conn.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK, self.id))
        self._last_progress = 0.0
        self.finished = False

    def _abort_orphans(self) -> int:
        aborted = 0
        for (run_id,) in self.conn.execute("SELECT id FROM ingest_runs WHERE status = 'running'").fetchall():
            got = self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (RUN_LOCK, run_id)).fetchone()
            if got and got[0]:
                self.conn.execute(
                    """UPDATE ingest_runs SET status = 'aborted', finished_at = coalesce(finished_at, now()),
                              error = coalesce(error, 'the process running it stopped before it finished')
                       WHERE id = %s AND status = 'running'""",
                    (run_id,),
                )
                self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, run_id))
                aborted += 1
        if aborted:
            log.warning("marked %d interrupted run(s) as aborted", aborted)
        return aborted

    PROGRESS_EVERY = 2.0
    """Seconds between progress writes: a run of thousands of files must not spend its time on bookkeeping."""

    def progress(self, summary: IngestSummary) -> None:
        now = time.monotonic()
        if now - self._last_progress >= self.PROGRESS_EVERY:
            self._last_progress = now
            try:
                self._write(self.conn, summary, status=None, error=None)
            except psycopg.Error as exc:  # progress is best effort; the end of the run is not
                log.warning("could not record the run's progress: %s", exc)

    def finish(self, summary: IngestSummary, status: str, error: str | None = None) -> None:
        """Record how the run ended with the counts that committed; reconnects once if its connection broke."""
        self.finished = True
        try:
            self._write(self.conn, summary, status=status, error=error)
            return
        except psycopg.Error as exc:
            first = exc
        try:
            with connect(self.url, autocommit=True) as conn:
                self._write(conn, summary, status=status, error=error)
        except (psycopg.Error, FitpipeError) as exc:
            log.warning(
                "could not record run %s as %s (%s; then %s); the next run will mark it aborted",
                self.id,
                status,
                first,
                exc,
            )

    def _write(
        self, conn: psycopg.Connection, summary: IngestSummary, status: str | None, error: str | None
    ) -> None:
        total = summary.total()
        errors = [f"{f.file}: {f.error}" for f in summary.failed]
        if error:
            errors.insert(0, error)
        files = {
            s: len(summary.with_status(s)) for s in ("loaded", "unchanged", "unknown", "skipped", "failed")
        }
        with conn.transaction():
            # the typed counts are this recorder's own: the triggers that copy an older job's JSON stay out
            conn.execute("SELECT set_config('fitpipe.run_counts', 'typed', true)")
            conn.execute(
                """
                UPDATE ingest_runs SET
                    participants = %(participants)s, files = %(files)s, rows_read = %(read)s, rows_new = %(new)s,
                    rows_updated = %(updated)s, rows_present = %(present)s, rows_quarantined = %(quarantined)s,
                    files_unchanged = %(unchanged)s, files_unknown = %(unknown)s, files_skipped = %(skipped)s,
                    files_failed = %(failed)s, sleep_new = %(sleep_new)s, sleep_present = %(sleep_present)s,
                    errors = %(errors)s, error = %(error)s, details = %(details)s,
                    status = coalesce(%(status)s, status),
                    finished_at = CASE WHEN %(status)s IS NULL THEN NULL ELSE now() END
                WHERE id = %(id)s
                """,
                {
                    "id": self.id,
                    "participants": len(summary.participants),
                    "files": files["loaded"],
                    "read": total.read,
                    "new": total.new,
                    "updated": total.updated,
                    "present": total.present,
                    "quarantined": sum(f.quarantined for f in summary.files),
                    "unchanged": files["unchanged"],
                    "unknown": files["unknown"],
                    "skipped": files["skipped"],
                    "failed": files["failed"],
                    "sleep_new": sum(f.sleep_new for f in summary.files),
                    "sleep_present": sum(f.sleep_present for f in summary.files),
                    "errors": len(errors),
                    "error": "\n".join(errors)[:10_000] or None,
                    "details": json.dumps(summary.details()),
                    "status": status,
                },
            )
            self._write_rows(conn, summary)

    def _write_rows(self, conn: psycopg.Connection, summary: IngestSummary) -> None:
        """The per-metric, per-reason and per-study counts; a run's counts only grow, so upserts suffice."""
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO ingest_run_metrics (run_id, metric, source, rows_read, rows_new, rows_updated,
                                                   rows_present, rows_duplicate, rows_quarantined)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (run_id, metric, source) DO UPDATE
                   SET rows_read = EXCLUDED.rows_read, rows_new = EXCLUDED.rows_new,
                       rows_updated = EXCLUDED.rows_updated, rows_present = EXCLUDED.rows_present,
                       rows_duplicate = EXCLUDED.rows_duplicate, rows_quarantined = EXCLUDED.rows_quarantined""",
                [
                    (
                        self.id,
                        metric,
                        source,
                        c.read,
                        c.new,
                        c.updated,
                        c.present,
                        c.duplicates,
                        c.quarantined,
                    )
                    for (metric, source), c in summary.by_metric().items()
                ],
            )
            cur.executemany(
                """INSERT INTO ingest_run_quarantine (run_id, reason, records) VALUES (%s, %s, %s)
                   ON CONFLICT (run_id, reason) DO UPDATE SET records = EXCLUDED.records""",
                [(self.id, reason, n) for reason, n in sorted(summary.quarantine_kinds.items())],
            )
            cur.executemany(
                """INSERT INTO ingest_run_token_failures (run_id, study, failures) VALUES (%s, %s, %s)
                   ON CONFLICT (run_id, study) DO UPDATE SET failures = EXCLUDED.failures""",
                [(self.id, study, int(n)) for study, n in sorted(summary.token_refresh_failures().items())],
            )

    def close(self) -> None:
        try:
            self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, self.id))
        except psycopg.Error:
            pass  # the session is gone, and its lock with it
        finally:
            self._ctx.__exit__(None, None, None)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or self.finished:
            self.close()
            return
        try:
            ended = _record_end(self, self.summary, exc)
        finally:
            self.close()
        if ended is not exc:  # a lost database: one DatabaseLost instead of a chain of driver tracebacks
            raise ended from None


def _record_end(recorder: RunRecorder, summary: IngestSummary, exc: BaseException) -> BaseException:
    """Record a run that an exception ended, with the counts that committed; returns what to raise (for a
    lost database, one DatabaseLost instead of a chain of driver tracebacks)."""
    lost = database_lost(exc)
    if lost is not None:
        recorder.finish(summary, "aborted", lost.message)
        return lost
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        recorder.finish(summary, "aborted", "interrupted (Ctrl-C or SIGTERM) before it finished")
    else:
        recorder.finish(
            summary,
            "failed",
            exc.message if isinstance(exc, FitpipeError) else f"{type(exc).__name__}: {exc}",
        )
    return exc


@dataclass(frozen=True)
class RunRow:
    """One line of `fitpipe runs`."""

    id: int
    trigger: str
    status: str
    started_at: datetime
    took: timedelta | None
    participants: int
    files: int
    rows_read: int
    rows_new: int
    rows_quarantined: int
    error: str
    """The first 60 characters of the run's error ('' without one)."""


def latest_runs(conn: psycopg.Connection, limit: int) -> list[RunRow]:
    rows = conn.execute(
        """SELECT id, trigger, status, started_at, finished_at - started_at, participants, files, rows_read,
                  rows_new, rows_quarantined, left(coalesce(error, ''), 60)
           FROM ingest_runs ORDER BY id DESC LIMIT %s""",
        (limit,),
    ).fetchall()
    return [RunRow(*row) for row in rows]
