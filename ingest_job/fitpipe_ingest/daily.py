"""The daily job (`fitpipe run`): for every active participant, load what is new in their inbox folder.

Inbox layout: $FITPIPE_INBOX/<study>/<participant>/ holding exports in any known format; each .zip
directly inside is read as an export of its own, the remaining files as one directory export. A
participant whose load fails is recorded and skipped; the others go on. The run is recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from fitpipe.errors import FitpipeError
from fitpipe.participants import Participant, list_participants
from fitpipe_ingest.counts import FileResult, IngestSummary
from fitpipe_ingest.ingest import FileCallback, ingest_tree
from fitpipe_ingest.load import LoadOptions
from fitpipe_ingest.sources.registry import detect_source
from fitpipe_ingest.tree import DirectoryTree, InputTree, ZipTree

__all__ = ["DailyResult", "run_inbox", "inbox_trees"]

log = logging.getLogger(__name__)


@dataclass
class DailyResult:
    summary: IngestSummary
    participants_total: int = 0
    participants_without_data: list[str] = field(default_factory=list)
    participants_failed: dict[str, str] = field(default_factory=dict)


class _FilesOutside(DirectoryTree):
    """The participant folder minus the .zip files directly inside it (those are trees of their own)."""

    def paths(self) -> list[str]:
        return [p for p in super().paths() if not ("/" not in p and p.lower().endswith(".zip"))]


def inbox_trees(folder: Path) -> list[InputTree]:
    trees: list[InputTree] = [
        ZipTree(p) for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() == ".zip"
    ]
    rest = _FilesOutside(folder)
    if rest.paths():
        trees.insert(0, rest)
    return trees


def _set_source_status(
    conn: psycopg.Connection, participant: Participant, source: str, error: str | None
) -> None:
    conn.execute(
        """
        INSERT INTO participant_sources AS ps (participant_id, source, status, last_attempt_at, last_success_at, last_error)
        VALUES (%(p)s, %(s)s, CASE WHEN %(e)s::text IS NULL THEN 'active' ELSE 'error' END, now(),
                CASE WHEN %(e)s::text IS NULL THEN now() END, %(e)s)
        ON CONFLICT (participant_id, source) DO UPDATE SET
            status = CASE WHEN ps.status IN ('needs_reconsent', 'disabled') THEN ps.status
                          WHEN %(e)s::text IS NULL THEN 'active' ELSE 'error' END,
            last_attempt_at = now(),
            last_success_at = CASE WHEN %(e)s::text IS NULL THEN now() ELSE ps.last_success_at END,
            last_error = %(e)s
        """,
        {"p": participant.id, "s": source, "e": error},
    )


def ingest_participant_folder(
    conn: psycopg.Connection,
    participant: Participant,
    folder: Path,
    options_for: Callable[[str], LoadOptions],
    summary: IngestSummary,
    on_file: FileCallback | None = None,
) -> list[FileResult]:
    """Ingest every export in one participant's folder; returns the failed files."""
    before = len(summary.files)
    for tree in inbox_trees(folder):
        try:
            source = detect_source(tree)
            ingest_tree(
                conn,
                tree,
                participant=participant,
                study=participant.study,
                source=source,
                options=options_for(source.name),
                timezone=participant.zone,
                summary=summary,
                on_file=on_file,
            )
            failed = [f for f in summary.files[before:] if f.status == "failed"]
            _set_source_status(
                conn,
                participant,
                source.name,
                None
                if not failed
                else f"{len(failed)} file(s) failed, first: {failed[0].file}: {failed[0].error}",
            )
        finally:
            tree.close()
    return [f for f in summary.files[before:] if f.status == "failed"]


def run_inbox(
    conn: psycopg.Connection,
    inbox: Path,
    options_for: Callable[[str], LoadOptions],
    *,
    study: str | None = None,
    on_participant: Callable[[Participant, int, int], None] | None = None,
    on_file: FileCallback | None = None,
    after_participant: Callable[[IngestSummary], None] | None = None,
) -> DailyResult:
    started = time.perf_counter()
    participants = [p for p in list_participants(conn, study) if p.status == "active"]
    result = DailyResult(summary=IngestSummary(), participants_total=len(participants))
    for i, participant in enumerate(participants, 1):
        if on_participant:
            on_participant(participant, i, len(participants))
        folder = inbox / participant.study / participant.external_id
        if not folder.is_dir() or not any(folder.iterdir()):
            result.participants_without_data.append(f"{participant.study}/{participant.external_id}")
            continue
        try:
            ingest_participant_folder(conn, participant, folder, options_for, result.summary, on_file)
        except FitpipeError as exc:
            log.warning("participant %s/%s: %s", participant.study, participant.external_id, exc.message)
            result.participants_failed[f"{participant.study}/{participant.external_id}"] = exc.message
        result.summary.participants.add(f"{participant.study}/{participant.external_id}")
        if after_participant:
            after_participant(result.summary)
    result.summary.seconds = time.perf_counter() - started
    return result
