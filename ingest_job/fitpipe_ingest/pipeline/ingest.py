"""`fitpipe ingest`: one input (directory, .zip or file) for a participant or for the participants its files
name, recorded as a run. Loading nothing is never silent: an ingest that stores nothing new and finds
nothing already stored fails, saying why for every file."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

from fitpipe.db import connect
from fitpipe.migrations import check_schema_current
from fitpipe.participants import get_participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.pipeline.files import FileCallback, ingest_tree
from fitpipe_ingest.pipeline.memory import bound_memory
from fitpipe_ingest.pipeline.options import RunOptions
from fitpipe_ingest.pipeline.outcome import RunOutcome, why_nothing
from fitpipe_ingest.pipeline.runs import RunRecorder, run_status
from fitpipe_ingest.tree import open_tree

__all__ = ["ingest_input"]


def ingest_input(
    url: str,
    path: Path,
    *,
    participant: str | None,
    study: str | None = None,
    fmt: str = "auto",
    timezone: ZoneInfo,
    full: bool = False,
    on_file: FileCallback | None = None,
) -> RunOutcome:
    bound_memory()
    with connect(url, autocommit=True) as conn:
        check_schema_current(conn)
        who = get_participant(conn, participant, study) if participant else None
        summary = IngestSummary()
        with RunRecorder(url, "ingest", summary) as recorder:
            options = RunOptions(full=full, run_id=recorder.id)
            started = time.perf_counter()

            def progress(result, done, total):
                if on_file:
                    on_file(result, done, total)
                recorder.progress(summary)

            tree = open_tree(path, options.tree_limits())
            try:
                ingest_tree(
                    conn,
                    tree,
                    participant=who,
                    study=study,
                    fmt=fmt,
                    options_for=options.load_options(),
                    timezone=timezone,
                    summary=summary,
                    on_file=progress,
                    rules=options.file_rules(),
                )
            finally:
                tree.close()
            summary.seconds = time.perf_counter() - started
            nothing = [] if summary.stored_or_found() else why_nothing(summary)
            errors = [f"{f.file}: {f.error}" for f in summary.failed]
            if nothing:
                errors.insert(0, "nothing was loaded: " + "; ".join(nothing))
                status = "failed"
            else:
                status = run_status(summary, len(errors))
            recorder.finish(summary, status, errors[0] if nothing else None)
    return RunOutcome(recorder.id, status, summary, nothing_loaded=nothing, errors=errors)
