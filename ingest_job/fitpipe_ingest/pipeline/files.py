"""Ingesting one input tree: every file goes to the source that reads it, is parsed, checked and loaded on its own.

A file never costs the others: whatever goes wrong while one file is read, parsed or written (an
InputError, a database refusal, a bug in a parser) fails that file alone, with the reason, and
nothing of it is stored; the next file goes on. Only the database going away stops the ingest
(DatabaseLost). A file whose rejected share is above `max_rejected_share` fails with its first
reasons instead of loading a sliver of itself. Files nobody reads are listed with what they looked
like; files not read on purpose (links, unsafe archive paths, over a size limit) with why.

Each file is read once. Unchanged files are skipped unread when their stamp (size and modification
time, or a member's CRC) matches the manifest; a small file is read whole once, hashed, and parsed from
those bytes; a big one (more than `hold_bytes`) is parsed in pieces that stream through the loader in
one transaction, the hash computed on the way. Small files are loaded in groups (one transaction, one
COPY per participant and metric); if a group fails, each of its files is loaded alone.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from fitpipe.errors import FitpipeError, InputError, NotFoundError
from fitpipe.participants import Participant, find_participant
from fitpipe_ingest.counts import FileResult, IngestSummary
from fitpipe_ingest.load import FileIdentity, GroupLoad, LoadOptions, PreparedFile, has_stamps, prepare
from fitpipe_ingest.pipeline.errors import database_lost
from fitpipe_ingest.records import ParseContext, ParsedFile, Rejected
from fitpipe_ingest.sources.base import FileSource
from fitpipe_ingest.sources.registry import plan_tree
from fitpipe_ingest.sources.toolkit.sniff import describe
from fitpipe_ingest.tree import InputTree, open_tree

__all__ = ["FileRules", "FileCallback", "ingest_tree", "ingest_path"]

log = logging.getLogger(__name__)

FileCallback = Callable[[FileResult, int, int], None]
"""Called after each file with (result, files done, files planned): progress bars and run bookkeeping."""


@dataclass(frozen=True)
class FileRules:
    max_rejected_share: float = 0.05
    """A file with a larger share of rejected records fails (one bad record never does)."""
    hold_bytes: int = 64 << 20
    """Files up to this size are read whole; bigger ones stream through the loader in pieces."""
    group_rows: int = 1_000_000
    """Samples per transaction before a group of small files is written (bounds memory)."""
    group_files: int = 400
    chunk_bytes: int = 16 << 20
    """Bytes of a streamed file parsed at a time (ParseContext.chunk_bytes)."""
    full: bool = False
    """Read every file, also those the manifest says are unchanged (with LoadOptions.full: merge every row)."""


class _Refused(Exception):
    """A file that must not load (its rejected share is too high): rolls back whatever of it was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class _Tally:
    """One file's records, as its pieces are prepared: what the rejected share is judged on."""

    records: int = 0
    rejected: int = 0
    first: list[Rejected] = field(default_factory=list)
    others: dict[str, int] = field(default_factory=dict)

    def add(self, f: PreparedFile) -> None:
        self.records += f.records
        self.rejected += f.rejected_count
        self.first += [r for _, r in f.rejected][: max(0, 3 - len(self.first))]
        for who, n in f.others.items():
            self.others[who] = self.others.get(who, 0) + n

    def refusal(self, limit: float) -> str | None:
        if self.rejected <= max(1, limit * self.records):
            return None
        firsts = "; ".join(f"{r.record}, {r.field}: {r.reason}" for r in self.first)
        return (
            f"{self.rejected:,} of {self.records:,} records rejected ({self.rejected / max(self.records, 1):.0%}), "
            f"more than the {limit:.0%} allowed (FITPIPE_INGEST_MAX_REJECTED_SHARE); nothing of it was stored. "
            f"First: {firsts}"
        )

    def note(self, participant: Participant | None) -> str | None:
        """Why a file that was read stored nothing, when the file can tell."""
        if self.records or participant is None or not self.others:
            return None
        ids = sorted(self.others, key=lambda who: -self.others[who])
        return (
            f"none of its {sum(self.others.values()):,} rows is participant {participant.external_id}'s "
            f"(it holds {', '.join(ids[:5])}{' …' if len(ids) > 5 else ''}); register the participant under "
            "the id the file uses"
        )


@dataclass
class _Pending:
    prepared: PreparedFile
    identity: FileIdentity
    tally: _Tally


class _FileIngest:
    """The state of one ingest_tree call: the connection, the summary, the group of small files waiting."""

    def __init__(
        self,
        conn: psycopg.Connection,
        tree: InputTree,
        participant: Participant | None,
        study: str | None,
        timezone: ZoneInfo,
        summary: IngestSummary,
        rules: FileRules,
        report: Callable[[FileResult], None],
    ) -> None:
        self.conn, self.tree, self.participant, self.rules = conn, tree, participant, rules
        self.study = study or (participant.study if participant else None)
        self.summary, self.report = summary, report
        self.ctx = ParseContext(
            timezone=participant.zone if participant else timezone,
            participant=participant.external_id if participant else None,
            chunk_bytes=rules.chunk_bytes,
        )
        self.pending: list[_Pending] = []
        self.pending_rows = 0
        self.started = time.perf_counter()

    # --- one file --------------------------------------------------------------------------------

    def untouched(self, paths: list[str]) -> list[tuple[str, str]]:
        """(path, source) of the files loaded before whose size and stamp are the same: not even opened."""
        if self.participant is None or self.rules.full or not paths or not has_stamps(self.conn):
            return []
        rows = self.conn.execute(
            """SELECT f.path, f.source FROM ingest_files f JOIN unnest(%s::text[], %s::bigint[], %s::text[])
                   AS t(path, size, stamp) ON f.path = t.path AND f.size = t.size AND f.stamp = t.stamp
               WHERE f.participant_id = %s""",
            (
                paths,
                [self.tree.size(p) for p in paths],
                [self.tree.stamp(p) for p in paths],
                self.participant.id,
            ),
        ).fetchall()
        return sorted((r[0], r[1]) for r in rows)

    def ingest(self, source: FileSource, options: LoadOptions, path: str) -> None:
        try:
            size, stamp = self.tree.size(path), self.tree.stamp(path)
            known = None if self.rules.full else self._manifest(path)
            if size > self.rules.hold_bytes:
                self.flush(options)
                self._stream(source, options, path, size, stamp)
                return
            self.tree.hold(path)
            sha = self.tree.sha256(path)
            if known is not None and known[0] == sha and known[1] == size:  # touched, not changed
                self._remember_stamp(path, stamp)
                self.unchanged(path, source.name)
                return
            parsed = source.parse(self.tree, path, self.ctx)
            prepared = prepare(self.conn, parsed, self._resolver(parsed, {}), options)
        except Exception as exc:  # noqa: BLE001 - any failure of one file is that file's, see the module doc
            self._failed(path, source, exc)
            return
        finally:
            self.tree.release()
        tally = _Tally()
        tally.add(prepared)
        refusal = tally.refusal(self.rules.max_rejected_share)
        if refusal:
            self._failed(path, source, _Refused(refusal))
            return
        self.pending.append(_Pending(prepared, FileIdentity(path, size, sha, stamp), tally))
        self.pending_rows += sum(s.ts.size for s in prepared.samples)
        if self.pending_rows >= self.rules.group_rows or len(self.pending) >= self.rules.group_files:
            self.flush(options)

    def _stream(self, source: FileSource, options: LoadOptions, path: str, size: int, stamp: str) -> None:
        """A file too big to hold: its pieces are prepared and written one by one in one transaction."""
        tally = _Tally()
        resolve: dict[str | None, Participant] = {}
        started = time.perf_counter()
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                group = GroupLoad(cur, options)
                for piece in _prefetched(source.parse_pieces(self.tree, path, self.ctx)):
                    resolve = self._resolver(piece, resolve)
                    prepared = prepare(self.conn, piece, resolve, options)
                    tally.add(prepared)
                    group.add(prepared, source.name)
                    group.flush()
                refusal = tally.refusal(self.rules.max_rejected_share)
                if refusal:
                    raise _Refused(refusal)
                group.finish(FileIdentity(path, size, self.tree.sha256(path), stamp), resolve)
        except Exception as exc:  # noqa: BLE001 - see the module doc
            self._failed(path, source, exc)
            return
        self.summary.add_counts(source.name, group.counts)
        self.summary.participants.update(f"{p.study}/{p.external_id}" for p in resolve.values())
        result = group.results.get(path) or FileResult(file=path, kind=source.description, source=source.name)
        result.metrics = dict(group.counts)
        result.note = tally.note(self.participant)
        result.seconds = time.perf_counter() - started
        self.report(result)

    # --- groups of small files -------------------------------------------------------------------

    def flush(self, options: LoadOptions) -> None:
        if not self.pending:
            return
        group, self.pending, self.pending_rows = self.pending, [], 0
        results = self._write(group, options)
        share = (time.perf_counter() - self.started) / max(len(results), 1)
        for result in results:
            result.seconds = share
            self.report(result)
        self.started = time.perf_counter()

    def _write(self, group: list[_Pending], options: LoadOptions) -> list[FileResult]:
        """Load the group in one transaction; if it fails, load each file alone so only the bad one fails."""
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                load = GroupLoad(cur, options)
                results = [load.add(p.prepared, options.source) for p in group]
                load.flush()
                for p in group:
                    load.finish(p.identity, p.prepared.resolve)
        except Exception as exc:  # noqa: BLE001 - see the module doc
            lost = database_lost(exc)
            if lost is not None:
                raise lost from exc
            if len(group) > 1:
                return [r for one in group for r in self._write([one], options)]
            return [self._failure(group[0].identity.path, options.source, group[0].prepared.kind, exc)]
        self.summary.add_counts(options.source, load.counts)
        for p, result in zip(group, results, strict=True):
            self.summary.participants.update(
                f"{q.study}/{q.external_id}" for q in p.prepared.resolve.values()
            )
            result.note = p.tally.note(self.participant)
        if len(group) == 1:
            results[0].metrics = dict(load.counts)
        return results

    # --- bookkeeping -----------------------------------------------------------------------------

    def _manifest(self, path: str) -> tuple[str, int] | None:
        """(sha256, size) of the file as last loaded for the participant ingested for."""
        if self.participant is None:
            return None
        row = self.conn.execute(
            "SELECT sha256, size FROM ingest_files WHERE participant_id = %s AND path = %s",
            (self.participant.id, path),
        ).fetchone()
        return None if row is None else (row[0], int(row[1]))

    def _remember_stamp(self, path: str, stamp: str) -> None:
        assert self.participant is not None
        if not has_stamps(self.conn):
            return
        self.conn.execute(
            "UPDATE ingest_files SET stamp = %s WHERE participant_id = %s AND path = %s",
            (stamp, self.participant.id, path),
        )

    def unchanged(self, path: str, source: str) -> None:
        self.report(FileResult(file=path, kind="loaded before", source=source, status="unchanged"))

    def _failed(self, path: str, source: FileSource, exc: BaseException) -> None:
        self.report(self._failure(path, source.name, source.description, exc))

    def _failure(self, path: str, source: str, kind: str, exc: BaseException) -> FileResult:
        lost = database_lost(exc)
        if lost is not None:
            raise lost from exc
        if isinstance(exc, FitpipeError | _Refused):
            message = exc.message
        elif isinstance(exc, psycopg.Error):
            message = (
                f"the database refused it: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
        else:  # a bug in a parser must not cost the night: the file fails, the traceback goes to the log
            log.error("%s: unexpected %s while reading it", path, type(exc).__name__, exc_info=exc)
            message = f"unexpected error while reading it ({type(exc).__name__}: {exc}); please report this"
        log.warning("%s: %s", path, message)
        return FileResult(file=path, kind=kind, source=source, status="failed", error=message)

    def _resolver(
        self, parsed: ParsedFile, known: dict[str | None, Participant]
    ) -> dict[str | None, Participant]:
        """Participants the file refers to. An id the study does not know fails the file before any write."""
        names = {b.participant for b in parsed.batches} | {s.participant for s in parsed.sleep}
        resolve = dict(known)
        participant = self.participant
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
            found = find_participant(self.conn, name, self.study)
            if found is None:
                unknown.append(name)
            else:
                resolve[name] = found
        if unknown:
            raise NotFoundError(
                f"{parsed.file}: unknown participant(s) {', '.join(unknown[:10])}"
                + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
                + (f" in study {self.study}" if self.study else ""),
                hint="add them with `fitpipe participants add ID --study S --timezone ZONE`, then ingest again",
            )
        if None in names and None not in resolve:
            raise InputError(
                "the file does not say whose data it is", file=parsed.file, hint="pass --participant ID"
            )
        return resolve


def _prefetched(pieces: Iterator[ParsedFile]) -> Iterator[ParsedFile]:
    """The pieces of a big file, the next one parsed in a thread while the current one is written: parsing
    (this process's CPU) and writing (the server's) overlap. At most two pieces are alive at a time."""
    handed: queue.Queue[ParsedFile | BaseException | None] = queue.Queue()  # None: no more pieces
    slots = threading.Semaphore(2)
    stop = threading.Event()

    def produce() -> None:
        try:
            while slots.acquire() and not stop.is_set():
                piece = next(pieces, None)
                handed.put(piece)
                if piece is None:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            handed.put(exc)

    worker = threading.Thread(target=produce, name="fitpipe-parse", daemon=True)
    worker.start()
    try:
        while True:
            item = handed.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            slots.release()  # the consumer is done with this piece
    finally:
        stop.set()
        slots.release()
        worker.join()
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def ingest_tree(
    conn: psycopg.Connection,
    tree: InputTree,
    *,
    participant: Participant | None,
    study: str | None,
    fmt: str = "auto",
    options_for: Callable[[str], LoadOptions],
    timezone: ZoneInfo,
    summary: IngestSummary,
    on_file: FileCallback | None = None,
    rules: FileRules | None = None,
) -> IngestSummary:
    """Load every file of the tree that a source reads (all sources with fmt 'auto'); results go to summary."""
    if not conn.autocommit:
        raise ValueError(
            "ingest needs an autocommit connection: each file or group commits in its own transaction"
        )
    run = _FileIngest(
        conn, tree, participant, study, timezone, summary, rules or FileRules(), lambda r: report(r)
    )
    untouched = run.untouched(tree.paths())
    plan = plan_tree(tree, fmt, exclude={path for path, _ in untouched})
    total = len(untouched) + plan.files + len(plan.unknown) + len(tree.skipped())
    done = 0
    if participant is not None:
        summary.participants.add(f"{participant.study}/{participant.external_id}")

    def report(result: FileResult) -> None:
        nonlocal done
        summary.files.append(result)
        done += 1
        if on_file:
            on_file(result, done, total)

    for path, source_name in untouched:
        run.unchanged(path, source_name)
    for path, why in tree.skipped():
        report(FileResult(file=path, kind="not read", source="", status="skipped", error=why))
    for path in plan.unknown:
        report(FileResult(file=path, kind=describe(tree, path), source="", status="unknown"))
    for source, paths in plan.groups:
        options = options_for(source.name)
        for path in paths:
            run.ingest(source, options, path)
        run.flush(options)
    return summary


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
    rules: FileRules | None = None,
) -> IngestSummary:
    """ingest_tree for a directory, .zip or single file (no run record: see pipeline.ingest for that)."""
    summary = summary or IngestSummary()
    started = time.perf_counter()
    tree = open_tree(path)
    try:
        ingest_tree(
            conn,
            tree,
            participant=participant,
            study=study,
            fmt=fmt,
            options_for=options_for,
            timezone=timezone or ZoneInfo("UTC"),
            summary=summary,
            on_file=on_file,
            rules=rules,
        )
    finally:
        tree.close()
    summary.seconds += time.perf_counter() - started
    return summary
