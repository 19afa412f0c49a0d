"""Recording ingest runs in `ingest_runs`, on a connection of their own so progress is visible while files load.

A running run holds a session advisory lock on its id. The next run tries that lock for every run
still marked 'running': if it gets it, the process that owned the run is gone (kill -9, OOM, node
loss) and the run is marked 'aborted'.
"""

from __future__ import annotations

import json
import logging
import time
from types import TracebackType

import psycopg

from fitpipe.db import connect
from fitpipe_ingest.counts import IngestSummary

__all__ = ["RunRecorder", "RUN_LOCK"]

RUN_LOCK = 0x6671
log = logging.getLogger(__name__)


class RunRecorder:
    def __init__(self, url: str, trigger: str) -> None:
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
            self._write(summary, status=None, error=None)

    def finish(self, summary: IngestSummary, status: str, error: str | None = None) -> None:
        self._write(summary, status=status, error=error)

    def _write(self, summary: IngestSummary, status: str | None, error: str | None) -> None:
        total = summary.total()
        errors = [f"{f.file}: {f.error}" for f in summary.failed]
        if error:
            errors.insert(0, error)
        self.conn.execute(
            """
            UPDATE ingest_runs SET
                participants = %(participants)s, files = %(files)s, rows_read = %(read)s, rows_new = %(new)s,
                rows_updated = %(updated)s, rows_present = %(present)s, rows_quarantined = %(quarantined)s,
                errors = %(errors)s, error = %(error)s, details = %(details)s,
                status = coalesce(%(status)s, status),
                finished_at = CASE WHEN %(status)s IS NULL THEN NULL ELSE now() END
            WHERE id = %(id)s
            """,
            {
                "id": self.id,
                "participants": len(summary.participants),
                "files": sum(1 for f in summary.files if f.status == "loaded"),
                "read": total.read,
                "new": total.new,
                "updated": total.updated,
                "present": total.present,
                "quarantined": sum(f.quarantined for f in summary.files),
                "errors": len(errors),
                "error": "\n".join(errors)[:10_000] or None,
                "details": json.dumps(summary.details()),
                "status": status,
            },
        )

    def close(self) -> None:
        try:
            self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, self.id))
        finally:
            self._ctx.__exit__(None, None, None)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
