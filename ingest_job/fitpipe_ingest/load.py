"""Loading parsed files: samples, rollups, cursors, sleep, quarantine and the file manifest, in ONE transaction.

Several small files (a Takeout export has one heart-rate file per day) are loaded together in one
transaction, each still all-or-nothing; their batches are merged per (participant, metric) so a
group costs one COPY and one rollup pass instead of one per file. Per (participant, metric), after
validation and de-duplication:
- rows of a file loaded before (it grew) that are older than its previous newest sample minus the
  lag window are skipped (`full=True` re-merges everything);
- if nothing is stored in the batch's time span, the rows are COPYed straight into `samples` and the
  rollups are updated additively (the fast path: new data);
- otherwise they are COPYed into a staging table and merged with INSERT … ON CONFLICT (existing rows
  with the same value are left alone; changed values are updated) and the touched hours re-aggregated.
A per-participant advisory lock serialises concurrent loads of one participant, so the span check
cannot race. A crash at any point rolls the whole group back; rerunning converges to the same rows.

Validation (the catalog's ranges, the plausible time window, duplicates) happens before the
transaction (`prepare`), so a caller can refuse a file whose rejected share is too high before any
write. A file too big to hold is loaded piece by piece inside its own transaction (`GroupLoad`): the
same rows as a whole-file load, memory bounded by a piece. A stored maximum outside the plausible
window (written before the window existed) never decides what counts as already present.
"""

from __future__ import annotations

import json
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from fitpipe.catalog import BY_NAME, Metric
from fitpipe.errors import InputError
from fitpipe.localtime import us_to_datetime
from fitpipe.participants import Participant
from fitpipe.pgcopy import copy_samples
from fitpipe_ingest.counts import FileResult, MetricCounts
from fitpipe_ingest.quarantine import reason_kind, store_rejected
from fitpipe_ingest.records import ParsedFile, Rejected, SampleBatch, SleepSession, concat_batches
from fitpipe_ingest.rollups import add_minute_aggregates, empty_staging, hour_ranges, recompute_ranges
from fitpipe_ingest.sleep_store import store_sleep
from fitpipe_ingest.validate import TimeWindow, clean_batch

__all__ = [
    "LoadOptions",
    "FileIdentity",
    "PendingFile",
    "PreparedFile",
    "GroupLoad",
    "prepare",
    "load_files",
    "load_parsed_file",
    "PARTICIPANT_LOCK",
    "NOT_COUNTED_AS_REJECTED",
    "has_stamps",
]

PARTICIPANT_LOCK = 0x6670  # advisory lock class for "loading participant <id>"

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS _fitpipe_stage (
    ts timestamptz NOT NULL, value double precision NOT NULL, participant_id integer NOT NULL, metric_id smallint NOT NULL
) ON COMMIT DELETE ROWS
"""

_MERGE = """
WITH up AS (
    INSERT INTO samples AS s (ts, value, participant_id, metric_id)
    SELECT ts, value, participant_id, metric_id FROM _fitpipe_stage
    ON CONFLICT (participant_id, metric_id, ts) DO UPDATE SET value = EXCLUDED.value
    WHERE s.value IS DISTINCT FROM EXCLUDED.value
    RETURNING (xmax = 0) AS inserted, ts
)
SELECT (extract(epoch FROM date_bin('1 hour', ts, '2000-01-03T00:00:00+00')) * 1000000)::bigint AS hour,
       count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
FROM up GROUP BY hour
"""

# a cursor outside the plausible window (stored before the window existed) is replaced, never kept
_CURSOR = """
INSERT INTO ingest_cursors AS c (participant_id, source, metric_id, initial_value, last_value, lag)
VALUES (%(p)s, %(s)s, %(m)s, %(lo)s, %(hi)s, %(lag)s)
ON CONFLICT (participant_id, source, metric_id) DO UPDATE SET
    initial_value = CASE WHEN c.initial_value < %(start)s THEN EXCLUDED.initial_value
                         ELSE LEAST(c.initial_value, EXCLUDED.initial_value) END,
    last_value = CASE WHEN c.last_value > %(end)s THEN EXCLUDED.last_value
                      ELSE GREATEST(c.last_value, EXCLUDED.last_value) END,
    lag = EXCLUDED.lag,
    updated_at = CASE WHEN EXCLUDED.last_value > c.last_value OR c.last_value > %(end)s THEN now()
                      ELSE c.updated_at END
"""

_MANIFEST = """
INSERT INTO ingest_files (participant_id, source, path, size, sha256, max_ts, run_id{stamp})
VALUES (%s, %s, %s, %s, %s, %s, %s{stamp_value})
ON CONFLICT (participant_id, path) DO UPDATE SET
    source = EXCLUDED.source, size = EXCLUDED.size, sha256 = EXCLUDED.sha256,
    max_ts = EXCLUDED.max_ts, run_id = EXCLUDED.run_id, loaded_at = now(){stamp_update}
"""
_MANIFEST_WITH_STAMP = _MANIFEST.format(
    stamp=", stamp", stamp_value=", %s", stamp_update=", stamp = EXCLUDED.stamp"
)
_MANIFEST_WITHOUT_STAMP = _MANIFEST.format(stamp="", stamp_value="", stamp_update="")
_STAMPS: weakref.WeakKeyDictionary[psycopg.Connection, bool] = weakref.WeakKeyDictionary()


def has_stamps(conn: psycopg.Connection) -> bool:
    """Whether the manifest has 0009's stamp column: this code also runs on the schemas before it
    (fitpipe.migrations.OLDEST_SCHEMA), as a rolling upgrade meets them, then without the shortcut."""
    if conn not in _STAMPS:
        row = conn.execute(
            """SELECT EXISTS (SELECT 1 FROM pg_attribute
                              WHERE attrelid = to_regclass('ingest_files') AND attname = 'stamp' AND NOT attisdropped)"""
        ).fetchone()
        _STAMPS[conn] = bool(row and row[0])
    return _STAMPS[conn]


NOT_COUNTED_AS_REJECTED = frozenset({"sentinel_value"})
"""Kinds of quarantined records that are a device's own "no reading" mark, not a reading gone wrong: they do
not count toward a file's rejected share (real SpO2 files hold up to 80 % of them)."""


@dataclass(frozen=True)
class LoadOptions:
    source: str
    lag: timedelta = timedelta(days=3)
    full: bool = False
    """Ignore the manifest and file cursors: merge every row (after loading an older export, say)."""
    run_id: int | None = None
    chunk_rows: int = 1_000_000
    plausible_start: date = date(2000, 1, 1)
    """Earliest plausible sample day (the study's earliest enrolment when that is earlier)."""
    plausible_future: timedelta = timedelta(days=1)
    """How far after now a sample may be (clock skew, time zones)."""
    now: datetime | None = None
    """The load's "now" for the window's end (tests pin it); default: the wall clock."""

    def window(self, study_start: date | None = None) -> TimeWindow:
        start = min(self.plausible_start, study_start) if study_start else self.plausible_start
        return TimeWindow(
            start, (self.now or datetime.now(UTC)) + self.plausible_future, self.plausible_future
        )


@dataclass(frozen=True)
class FileIdentity:
    path: str
    """Relative to the ingested tree (the participant's inbox in daily runs)."""
    size: int
    sha256: str
    stamp: str | None = None
    """Size and modification time (or a zip member's CRC): an unchanged file is then skipped unread."""


@dataclass
class PendingFile:
    """A parsed file waiting to be loaded, with the participants its names resolve to."""

    parsed: ParsedFile
    resolve: dict[str | None, Participant]
    identity: FileIdentity
    result: FileResult | None = None


@dataclass
class _Clean:
    participant: Participant
    metric: Metric
    ts: np.ndarray
    value: np.ndarray


@dataclass
class PreparedFile:
    """A parsed file (or piece of one) validated against the catalog and the window, ready to write."""

    path: str
    kind: str
    resolve: dict[str | None, Participant]
    samples: list[_Clean] = field(default_factory=list)
    rejected: list[tuple[int | None, Rejected]] = field(default_factory=list)
    sleep: list[tuple[int, SleepSession]] = field(default_factory=list)
    counts: dict[str, MetricCounts] = field(default_factory=lambda: defaultdict(MetricCounts))
    records: int = 0
    """Records the source read (samples, sleep logs, rejected)."""
    others: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_count(self) -> int:
        """Rejected records that count toward the file's rejected share."""
        return sum(1 for _, r in self.rejected if reason_kind(r) not in NOT_COUNTED_AS_REJECTED)


def _study_starts(conn: psycopg.Connection, study_ids: set[int]) -> dict[int, date]:
    if not study_ids:
        return {}
    rows = conn.execute(
        """SELECT study_id, min(enrolment_start) FROM participants
           WHERE study_id = ANY(%s) AND enrolment_start IS NOT NULL GROUP BY 1""",
        (sorted(study_ids),),
    ).fetchall()
    return {int(r[0]): r[1].astimezone(UTC).date() for r in rows}


def prepare(
    conn: psycopg.Connection,
    parsed: ParsedFile,
    resolve: dict[str | None, Participant],
    options: LoadOptions,
) -> PreparedFile:
    """Validate a parsed file: samples cleaned per (participant, metric), every rejected record with its owner."""
    for batch in parsed.batches:
        if batch.metric not in BY_NAME:
            raise InputError(
                f"parser emitted unknown metric {batch.metric!r}",
                file=parsed.file,
                hint="this is a bug in the source module: metric names must come from fitpipe/catalog.py",
            )
    starts = _study_starts(conn, {p.study_id for p in resolve.values()})
    out = PreparedFile(
        parsed.file, parsed.kind, resolve, records=parsed.records_read, others=dict(parsed.others)
    )
    for r in parsed.rejected:
        owner = resolve.get(r.participant) or resolve.get(None)
        out.rejected.append((owner.id if owner else None, r))
    by_key: dict[tuple[int, str], list[SampleBatch]] = defaultdict(list)
    for batch in parsed.batches:
        by_key[(resolve[batch.participant].id, batch.metric)].append(batch)
    people = {p.id: p for p in resolve.values()}
    for (pid, metric_name), batches in sorted(by_key.items()):
        participant, metric = people[pid], BY_NAME[metric_name]
        window = options.window(starts.get(participant.study_id))
        clean = clean_batch(concat_batches(batches), metric, participant.external_id, window)
        c = out.counts[metric_name]
        c.read += clean.read
        c.duplicates += clean.duplicates
        c.quarantined += len(clean.rejected)
        out.rejected += [(pid, r) for r in clean.rejected]
        if clean.ts.size:
            out.samples.append(_Clean(participant, metric, clean.ts, clean.value))
    out.sleep = [(resolve[s.participant].id, s) for s in parsed.sleep]
    return out


@dataclass
class _Merged:
    """One (participant, metric) of a group: cleaned arrays of each file, in file order."""

    participant: Participant
    metric: Metric
    ts: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)


def _keep_last(ts: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sort by time; of equal timestamps keep the one that came last (later files win)."""
    if ts.size < 2 or (np.diff(ts) > 0).all():
        return ts, value, 0
    order = np.argsort(ts, kind="stable")
    ts, value = ts[order], value[order]
    last = np.empty(ts.size, dtype=bool)
    last[:-1] = ts[1:] != ts[:-1]
    last[-1] = True
    return ts[last], value[last], int(ts.size - last.sum())


def _write_samples(
    cur: psycopg.Cursor,
    participant: Participant,
    metric: Metric,
    ts: np.ndarray,
    value: np.ndarray,
    options: LoadOptions,
    counts: MetricCounts,
    window: TimeWindow,
) -> None:
    lo, hi = us_to_datetime(int(ts[0])), us_to_datetime(int(ts[-1]))
    occupied = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM samples WHERE participant_id = %s AND metric_id = %s AND ts BETWEEN %s AND %s)",
        (participant.id, metric.id, lo, hi),
    ).fetchone()
    if not (occupied and occupied[0]):
        copy_samples(cur, "samples", ts, value, participant.id, metric.id, options.chunk_rows)
        add_minute_aggregates(cur, participant.id, metric.id, participant.timezone, ts, value)
        counts.new += int(ts.size)
    else:
        cur.execute(_STAGE_DDL)
        cur.execute("DELETE FROM _fitpipe_stage")
        copy_samples(cur, "_fitpipe_stage", ts, value, participant.id, metric.id, options.chunk_rows)
        touched = cur.execute(_MERGE).fetchall()
        inserted = sum(int(r[1]) for r in touched)
        updated = sum(int(r[2]) for r in touched)
        counts.new += inserted
        counts.updated += updated
        counts.present += int(ts.size) - inserted - updated
        if touched:
            hours = np.array([int(r[0]) for r in touched], dtype=np.int64)
            recompute_ranges(cur, participant.id, metric.id, participant.timezone, hour_ranges(hours))
    cur.execute(
        _CURSOR,
        {
            "p": participant.id,
            "s": options.source,
            "m": metric.id,
            "lo": lo,
            "hi": hi,
            "lag": options.lag,
            "start": us_to_datetime(window.start_us),
            "end": window.end,
        },
    )


class GroupLoad:
    """Writes prepared files (or pieces of one) inside the caller's transaction.

    add() trims rows a grown file held before, queues samples (merged per participant and metric
    across the group) and writes quarantine and sleep; flush() writes the queued samples; finish()
    writes a file's manifest entry. A group of small files: add each, flush once, finish each. A big
    file: add and flush each piece, finish once.
    """

    def __init__(self, cur: psycopg.Cursor, options: LoadOptions) -> None:
        self.cur = cur
        self.options = options
        self.counts: dict[str, MetricCounts] = defaultdict(MetricCounts)
        self._locked: set[int] = set()
        self._previous: dict[tuple[int, str], dict[str, int]] = {}
        self._maxes: dict[str, dict[int, dict[str, int]]] = {}
        self._merged: dict[tuple[int, str], _Merged] = {}
        self._windows: dict[int, TimeWindow] = {}
        self._flushes = 0
        self.results: dict[str, FileResult] = {}

    def _lock(self, pids: set[int]) -> None:
        new = sorted(pids - self._locked)
        for pid in new:
            self.cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (PARTICIPANT_LOCK, pid))
            self._locked.add(pid)
        if new:
            _refuse_erased(self.cur, new)

    def _load_previous(self, path: str, pids: set[int]) -> None:
        keys = {(pid, path) for pid in pids} - set(self._previous)
        if not keys:
            return
        found = _previous_manifests(self.cur, keys)
        for key in keys:
            self._previous[key] = found.get(key, {})

    def add(self, f: PreparedFile, source: str) -> FileResult:
        pids = {p.id for p in f.resolve.values()}
        self._lock(pids)
        self._load_previous(f.path, pids)
        result = self.results.setdefault(f.path, FileResult(file=f.path, kind=f.kind, source=source))
        result.kind = f.kind
        result.quarantined += len(f.rejected)
        result.quarantine_kinds.update(reason_kind(r) for _, r in f.rejected)
        lag_us = int(self.options.lag.total_seconds() * 1_000_000)
        maxes = self._maxes.setdefault(f.path, {})
        for metric_name, c in f.counts.items():
            self.counts[metric_name].read += c.read
            self.counts[metric_name].duplicates += c.duplicates
            self.counts[metric_name].quarantined += c.quarantined
            result.read += c.read
        window = self.options.window()
        for s in f.samples:
            pid, metric_name = s.participant.id, s.metric.name
            previous = self._previous.get((pid, f.path), {})
            file_max = maxes.setdefault(pid, {k: v for k, v in previous.items() if _inside(v, window)})
            ts, value = s.ts, s.value
            file_max[metric_name] = max(int(ts[-1]), file_max.get(metric_name, int(ts[-1])))
            before = previous.get(metric_name)
            if before is not None and not self.options.full and _inside(before, window):
                start = int(np.searchsorted(ts, before - lag_us, side="left"))
                self.counts[metric_name].present += start
                ts, value = ts[start:], value[start:]
            if ts.size:
                m = self._merged.setdefault((pid, metric_name), _Merged(s.participant, s.metric))
                m.ts.append(ts)
                m.value.append(value)
                self._windows[pid] = window
        if f.sleep:
            new, present = store_sleep(self.cur, f.sleep, self.options.source)
            result.sleep_new += new
            result.sleep_present += present
        store_rejected(self.cur, f.rejected, self.options.source, self.options.run_id)
        return result

    TRUNCATE_EVERY = 8
    """Flushes of one transaction between two emptyings of the staging tables (see rollups.empty_staging)."""

    def flush(self) -> None:
        self._flushes += 1
        if self._flushes % self.TRUNCATE_EVERY == 0:
            empty_staging(self.cur)
            self.cur.execute(_STAGE_DDL)
            self.cur.execute("TRUNCATE _fitpipe_stage")
        for (pid, metric_name), m in sorted(self._merged.items(), key=lambda kv: kv[0]):
            ts, value, dups = _keep_last(np.concatenate(m.ts), np.concatenate(m.value))
            self.counts[metric_name].duplicates += dups
            _write_samples(
                self.cur,
                m.participant,
                m.metric,
                ts,
                value,
                self.options,
                self.counts[metric_name],
                self._windows[pid],
            )
        self._merged.clear()

    def finish(self, identity: FileIdentity, resolve: dict[str | None, Participant]) -> None:
        maxes = self._maxes.get(identity.path, {})
        stamps = has_stamps(self.cur.connection)
        for pid in sorted({p.id for p in resolve.values()} | set(maxes)):
            previous = self._previous.get((pid, identity.path), {})
            row = (
                pid,
                self.options.source,
                identity.path,
                identity.size,
                identity.sha256,
                json.dumps(maxes.get(pid, previous)),
                self.options.run_id,
            )
            if stamps:
                self.cur.execute(_MANIFEST_WITH_STAMP, (*row, identity.stamp))
            else:
                self.cur.execute(_MANIFEST_WITHOUT_STAMP, row)


def _inside(us: int, window: TimeWindow) -> bool:
    """Whether a stored maximum can be trusted: one beyond the window's end was stored before the window
    existed, and would make every later row look already present."""
    return us <= window.end_us


def _previous_manifests(
    cur: psycopg.Cursor, keys: set[tuple[int, str]]
) -> dict[tuple[int, str], dict[str, int]]:
    if not keys:
        return {}
    pids, paths = zip(*sorted(keys), strict=True)
    rows = cur.execute(
        """SELECT f.participant_id, f.path, f.max_ts FROM ingest_files f
           JOIN unnest(%s::int[], %s::text[]) AS k(pid, path) ON f.participant_id = k.pid AND f.path = k.path""",
        (list(pids), list(paths)),
    ).fetchall()
    return {(int(r[0]), r[1]): dict(r[2]) for r in rows}


def _refuse_erased(cur: psycopg.Cursor, participant_ids: list[int]) -> None:
    """An erasure (fitpipe.storage.erasure) holds the same lock; a load after it must not bring data back."""
    erased = cur.execute(
        "SELECT p.external_id, s.name FROM participants p JOIN studies s ON s.id = p.study_id "
        "WHERE p.id = ANY(%s) AND p.erased_at IS NOT NULL ORDER BY 1",
        (participant_ids,),
    ).fetchall()
    if erased:
        raise InputError(
            "participant "
            + ", ".join(f"{e} of study {s}" for e, s in erased)
            + " was erased: nothing is stored",
            hint="remove their files from the inbox; enrol them again under a new id if they consent again",
        )


def load_files(
    conn: psycopg.Connection, files: list[PendingFile], options: LoadOptions
) -> dict[str, MetricCounts]:
    """Validate and write a group of parsed files in one transaction; fills each file's result, returns
    counts per metric.

    `resolve` of each file maps the participant names it uses (None: the participant ingested for)
    to participants; the caller resolves them, so an unknown participant fails before any write.
    """
    prepared = [prepare(conn, f.parsed, f.resolve, options) for f in files]
    with conn.transaction(), conn.cursor() as cur:
        group = GroupLoad(cur, options)
        for f, p in zip(files, prepared, strict=True):
            f.result = group.add(p, options.source)
        group.flush()
        for f in files:
            group.finish(f.identity, f.resolve)
    return dict(group.counts)


def load_parsed_file(
    conn: psycopg.Connection,
    parsed: ParsedFile,
    resolve: dict[str | None, Participant],
    identity: FileIdentity,
    options: LoadOptions,
) -> FileResult:
    """Load one file on its own (a group of one); its result carries the per-metric counts."""
    pending = PendingFile(parsed, resolve, identity)
    counts = load_files(conn, [pending], options)
    assert pending.result is not None
    pending.result.metrics = counts
    return pending.result
