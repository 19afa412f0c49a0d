"""The inbox part of the daily run: for every active participant, load what is new in their folder.

Inbox layout: $FITPIPE_INBOX/<study>/<participant>/ holding exports in any known format, at any depth,
zipped or not (archives are folders of the tree). A participant whose folder cannot be read, or
whose files load nothing although there are files, is recorded as failed with the reasons; the others
go on. Only the database going away stops the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from fitpipe.errors import FitpipeError
from fitpipe.participants import Participant, list_participants
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.pipeline.errors import database_lost
from fitpipe_ingest.pipeline.files import FileCallback, ingest_tree
from fitpipe_ingest.pipeline.options import RunOptions
from fitpipe_ingest.pipeline.outcome import why_nothing
from fitpipe_ingest.tree import DirectoryTree

__all__ = ["InboxResult", "ingest_inbox"]

log = logging.getLogger(__name__)


@dataclass
class InboxResult:
    summary: IngestSummary
    participants_total: int = 0
    participants_without_data: list[str] = field(default_factory=list)
    participants_failed: dict[str, str] = field(default_factory=dict)


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


def _ingest_folder(
    conn: psycopg.Connection,
    participant: Participant,
    folder: Path,
    options: RunOptions,
    on_file: FileCallback | None,
    part: IngestSummary,
) -> str | None:
    """Load one participant's folder into `part`; returns why the participant failed, or None."""
    try:
        tree = DirectoryTree(folder, options.tree_limits())
        try:
            ingest_tree(
                conn,
                tree,
                participant=participant,
                study=participant.study,
                options_for=options.load_options(),
                timezone=participant.zone,
                summary=part,
                on_file=on_file,
                rules=options.file_rules(),
            )
        finally:
            tree.close()
    except Exception as exc:  # noqa: BLE001 - a participant never costs the others; a lost database does
        lost = database_lost(exc)
        if lost is not None:
            raise lost from exc
        if isinstance(exc, FitpipeError):
            return exc.message
        log.warning(
            "participant %s: unexpected %s", participant.external_id, type(exc).__name__, exc_info=exc
        )
        return f"unexpected error ({type(exc).__name__}: {exc}); please report this"
    for source in sorted({f.source for f in part.files if f.source}):
        failed = [f for f in part.files if f.source == source and f.status == "failed"]
        _set_source_status(
            conn,
            participant,
            source,
            f"{len(failed)} file(s) failed, first: {failed[0].file}: {failed[0].error}" if failed else None,
        )
    if part.files and not part.stored_or_found():
        reasons = why_nothing(part)
        return (
            "nothing was loaded from their inbox: "
            + "; ".join(reasons[:5])
            + (f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else "")
        )
    return None


def ingest_inbox(
    conn: psycopg.Connection,
    inbox: Path,
    options: RunOptions,
    result: InboxResult,
    *,
    study: str | None = None,
    on_participant: Callable[[Participant, int, int], None] | None = None,
    on_file: FileCallback | None = None,
    after_participant: Callable[[IngestSummary], None] | None = None,
) -> InboxResult:
    participants = [p for p in list_participants(conn, study) if p.status == "active"]
    result.participants_total = len(participants)
    for i, participant in enumerate(participants, 1):
        name = f"{participant.study}/{participant.external_id}"
        if on_participant:
            on_participant(participant, i, len(participants))
        folder = inbox / participant.study / participant.external_id
        if not folder.is_dir() or not any(folder.iterdir()):
            result.participants_without_data.append(name)
            continue
        part = IngestSummary()
        try:
            failure = _ingest_folder(conn, participant, folder, options, on_file, part)
        finally:  # what committed counts, even when the database goes away mid-participant
            result.summary.merge(part)
            result.summary.participants.add(name)
        if failure:
            log.warning("participant %s: %s", name, failure)
            result.participants_failed[name] = failure
        if after_participant:
            after_participant(result.summary)
    return result
