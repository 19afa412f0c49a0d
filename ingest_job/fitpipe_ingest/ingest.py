"""Ingesting one input (directory, .zip or file) for a participant: detect the format, plan, parse and load file by file.

A file that cannot be read fails alone (it is reported and nothing of it is written); the others
still load. Files whose content was loaded before are skipped unread (the manifest), unless `full`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from fitpipe.errors import FitpipeError, InputError, NotFoundError
from fitpipe.participants import Participant, find_participant
from fitpipe_ingest.counts import FileResult, IngestSummary
from fitpipe_ingest.load import FileIdentity, LoadOptions, PendingFile, load_files
from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.base import FileSource
from fitpipe_ingest.sources.registry import detect_source, get_source
from fitpipe_ingest.tree import InputTree, open_tree

__all__ = ["ingest_tree", "ingest_path", "FileCallback"]

log = logging.getLogger(__name__)

FileCallback = Callable[[FileResult, int, int], None]
"""Called after each file with (result, files done, files planned): progress bars and run bookkeeping."""


def _resolver(
    conn: psycopg.Connection, parsed: ParsedFile, participant: Participant | None, study: str | None
) -> dict[str | None, Participant]:
    """Participants the file refers to. An id the study does not know fails the file before any write."""
    names = {b.participant for b in parsed.batches} | {s.participant for s in parsed.sleep}
    resolve: dict[str | None, Participant] = {}
    if participant is not None:
        resolve[None] = participant
        resolve[participant.external_id] = participant
    unknown = []
    for name in sorted(n for n in names if n is not None and n not in resolve):
        if participant is not None:
            raise InputError(
                f"the file holds data of participant {name!r}, but it is being ingested for {participant.external_id!r}",
                file=parsed.file,
                hint="ingest it without --participant to use the ids in the file, or fix the file's id column",
            )
        found = find_participant(conn, name, study)
        if found is None:
            unknown.append(name)
        else:
            resolve[name] = found
    if unknown:
        raise NotFoundError(
            f"{parsed.file}: unknown participant(s) {', '.join(unknown[:10])}"
            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            + (f" in study {study}" if study else ""),
            hint="add them with `fitpipe participants add ID --study S --timezone ZONE`, then ingest again",
        )
    if None in names and None not in resolve:
        raise InputError(
            "the file does not say whose data it is",
            file=parsed.file,
            hint="pass --participant ID",
        )
    return resolve


def _unchanged(
    conn: psycopg.Connection, participant: Participant | None, path: str, identity: FileIdentity
) -> bool:
    if participant is None:
        return False
    row = conn.execute(
        "SELECT sha256, size FROM ingest_files WHERE participant_id = %s AND path = %s",
        (participant.id, path),
    ).fetchone()
    return row is not None and row[0] == identity.sha256 and int(row[1]) == identity.size


GROUP_ROWS = 1_000_000
"""Samples per transaction before a group of small files is flushed (bounds memory)."""
GROUP_FILES = 400


def _flush(
    conn: psycopg.Connection,
    pending: list[PendingFile],
    options: LoadOptions,
    summary: IngestSummary,
) -> list[FileResult]:
    """Load the group in one transaction; if it fails, load each file alone so only the bad one fails."""
    if not pending:
        return []
    try:
        summary.add_counts(options.source, load_files(conn, pending, options))
        return [p.result for p in pending if p.result is not None]
    except (FitpipeError, psycopg.DataError, psycopg.IntegrityError) as exc:
        if len(pending) == 1:
            message = (
                exc.message
                if isinstance(exc, FitpipeError)
                else f"the database refused it: {exc}".splitlines()[0]
            )
            log.warning("%s: %s", pending[0].identity.path, message)
            return [
                FileResult(
                    file=pending[0].identity.path,
                    kind=pending[0].parsed.kind,
                    source=options.source,
                    status="failed",
                    error=message,
                )
            ]
    results: list[FileResult] = []
    for one in pending:
        results.extend(_flush(conn, [one], options, summary))
    return results


def ingest_tree(
    conn: psycopg.Connection,
    tree: InputTree,
    *,
    participant: Participant | None,
    study: str | None,
    source: FileSource,
    options: LoadOptions,
    timezone: ZoneInfo,
    summary: IngestSummary,
    on_file: FileCallback | None = None,
) -> IngestSummary:
    if not conn.autocommit:
        raise ValueError(
            "ingest needs an autocommit connection: each group of files commits in its own transaction"
        )
    plan = source.plan(tree)
    total = len(plan.files) + len(plan.unknown)
    done = 0
    ctx = ParseContext(
        timezone=participant.zone if participant else timezone,
        participant=participant.external_id if participant else None,
    )
    if participant is not None:
        summary.participants.add(f"{participant.study}/{participant.external_id}")

    def report(result: FileResult) -> None:
        nonlocal done
        summary.files.append(result)
        done += 1
        if on_file:
            on_file(result, done, total)

    for path in plan.unknown:
        report(FileResult(file=path, kind="not a known file", source=source.name, status="unknown"))
    pending: list[PendingFile] = []
    pending_rows = 0
    started = time.perf_counter()
    for path in plan.files:
        try:
            identity = FileIdentity(path=path, size=tree.size(path), sha256=tree.sha256(path))
            if not options.full and _unchanged(conn, participant, path, identity):
                report(FileResult(file=path, kind="loaded before", source=source.name, status="unchanged"))
                continue
            parsed = source.parse(tree, path, ctx)
            resolve = _resolver(
                conn, parsed, participant, study or (participant.study if participant else None)
            )
        except FitpipeError as exc:
            log.warning("%s: %s", path, exc.message)
            report(
                FileResult(
                    file=path, kind="unreadable", source=source.name, status="failed", error=exc.message
                )
            )
            continue
        summary.participants.update(f"{p.study}/{p.external_id}" for p in resolve.values())
        pending.append(PendingFile(parsed, resolve, identity))
        pending_rows += sum(len(b) for b in parsed.batches)
        if pending_rows >= GROUP_ROWS or len(pending) >= GROUP_FILES:
            _report_group(_flush(conn, pending, options, summary), started, report)
            pending, pending_rows, started = [], 0, time.perf_counter()
    _report_group(_flush(conn, pending, options, summary), started, report)
    return summary


def _report_group(results: list[FileResult], started: float, report: Callable[[FileResult], None]) -> None:
    share = (time.perf_counter() - started) / max(len(results), 1)
    for result in results:
        result.seconds = share
        report(result)


def ingest_path(
    conn: psycopg.Connection,
    path: Path,
    *,
    participant: Participant | None,
    study: str | None = None,
    fmt: str = "auto",
    options_for: Callable[[str], LoadOptions],
    timezone: ZoneInfo | None = None,
    summary: IngestSummary | None = None,
    on_file: FileCallback | None = None,
) -> IngestSummary:
    """Ingest a directory, .zip or single file. `options_for(source_name)` gives the load options."""
    summary = summary or IngestSummary()
    started = time.perf_counter()
    tree = open_tree(path)
    try:
        source = detect_source(tree) if fmt == "auto" else get_source(fmt)
        ingest_tree(
            conn,
            tree,
            participant=participant,
            study=study,
            source=source,
            options=options_for(source.name),
            timezone=timezone or ZoneInfo("UTC"),
            summary=summary,
            on_file=on_file,
        )
    finally:
        tree.close()
    summary.seconds += time.perf_counter() - started
    return summary
