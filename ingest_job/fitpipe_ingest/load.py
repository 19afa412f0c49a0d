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
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import psycopg

from fitpipe.catalog import BY_NAME, Metric
from fitpipe.errors import InputError
from fitpipe.participants import Participant
from fitpipe_ingest.copy import copy_samples
from fitpipe_ingest.counts import FileResult, MetricCounts
from fitpipe_ingest.localtime import us_to_datetime
from fitpipe_ingest.quarantine import reason_kind, store_rejected
from fitpipe_ingest.records import ParsedFile, Rejected, SampleBatch
from fitpipe_ingest.rollups import add_minute_aggregates, hour_ranges, recompute_ranges
from fitpipe_ingest.sleep_store import store_sleep
from fitpipe_ingest.validate import clean_batch

__all__ = ["LoadOptions", "FileIdentity", "PendingFile", "load_files", "load_parsed_file", "PARTICIPANT_LOCK"]

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

_CURSOR = """
INSERT INTO ingest_cursors AS c (participant_id, source, metric_id, initial_value, last_value, lag)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (participant_id, source, metric_id) DO UPDATE SET
    initial_value = LEAST(c.initial_value, EXCLUDED.initial_value),
    last_value = GREATEST(c.last_value, EXCLUDED.last_value),
    lag = EXCLUDED.lag,
    updated_at = CASE WHEN EXCLUDED.last_value > c.last_value THEN now() ELSE c.updated_at END
"""

_MANIFEST = """
INSERT INTO ingest_files (participant_id, source, path, size, sha256, max_ts, run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (participant_id, path) DO UPDATE SET
    source = EXCLUDED.source, size = EXCLUDED.size, sha256 = EXCLUDED.sha256,
    max_ts = EXCLUDED.max_ts, run_id = EXCLUDED.run_id, loaded_at = now()
"""


@dataclass(frozen=True)
class LoadOptions:
    source: str
    lag: timedelta = timedelta(days=3)
    full: bool = False
    """Ignore the manifest and file cursors: merge every row (after loading an older export, say)."""
    run_id: int | None = None
    chunk_rows: int = 1_000_000


@dataclass(frozen=True)
class FileIdentity:
    path: str
    """Relative to the ingested tree (the participant's inbox in daily runs)."""
    size: int
    sha256: str


@dataclass
class PendingFile:
    """A parsed file waiting to be loaded, with the participants its names resolve to."""

    parsed: ParsedFile
    resolve: dict[str | None, Participant]
    identity: FileIdentity
    result: FileResult | None = None


@dataclass
class _Merged:
    """One (participant, metric) of a group: cleaned arrays of each file, in file order."""

    participant: Participant
    metric: Metric
    ts: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)


def _concat(batches: list[SampleBatch]) -> SampleBatch:
    if len(batches) == 1:
        return batches[0]

    def cat(name: str) -> np.ndarray | None:
        parts = [getattr(b, name) for b in batches]
        if all(p is None for p in parts):
            return None
        return np.concatenate(
            [
                p if p is not None else np.full(len(b), -1, np.int32)
                for p, b in zip(parts, batches, strict=True)
            ]
        )

    first = batches[0]
    return SampleBatch(
        metric=first.metric,
        ts=np.concatenate([b.ts for b in batches]),
        value=np.concatenate([b.value for b in batches]),
        file=first.file,
        line=cat("line"),
        item=cat("item"),
        participant=first.participant,
    )


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
    cur.execute(_CURSOR, (participant.id, options.source, metric.id, lo, hi, options.lag))


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
    """Write a group of parsed files in one transaction; fills each file's result, returns counts per metric.

    `resolve` of each file maps the participant names it uses (None: the participant ingested for)
    to participants; the caller resolves them, so an unknown participant fails before any write.
    """
    lag_us = int(options.lag.total_seconds() * 1_000_000)
    counts: dict[str, MetricCounts] = defaultdict(MetricCounts)
    for f in files:
        for batch in f.parsed.batches:
            if batch.metric not in BY_NAME:
                raise InputError(
                    f"parser emitted unknown metric {batch.metric!r}",
                    file=f.parsed.file,
                    hint="this is a bug in the source module: metric names must come from fitpipe/catalog.py",
                )
    participants = {p.id: p for f in files for p in f.resolve.values()}
    with conn.transaction(), conn.cursor() as cur:
        for pid in sorted(participants):
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (PARTICIPANT_LOCK, pid))
        _refuse_erased(cur, sorted(participants))
        keys = {(p.id, f.identity.path) for f in files for p in f.resolve.values()}
        previous = _previous_manifests(cur, keys)
        merged: dict[tuple[int, str], _Merged] = {}
        quarantine_rows: list[tuple[int | None, Rejected]] = []
        for f in files:
            result = f.result = FileResult(file=f.identity.path, kind=f.parsed.kind, source=options.source)
            for r in f.parsed.rejected:
                owner = f.resolve.get(r.participant) or f.resolve.get(None)
                quarantine_rows.append((owner.id if owner else None, r))
                result.quarantined += 1
                result.quarantine_kinds[reason_kind(r)] += 1
            by_key: dict[tuple[int, str], list[SampleBatch]] = defaultdict(list)
            for batch in f.parsed.batches:
                by_key[(f.resolve[batch.participant].id, batch.metric)].append(batch)
            file_max: dict[int, dict[str, int]] = {}
            for (pid, metric_name), batches in sorted(by_key.items()):
                participant, metric = participants[pid], BY_NAME[metric_name]
                c = counts[metric_name]
                clean = clean_batch(_concat(batches), metric, participant.external_id)
                c.read += clean.read
                c.duplicates += clean.duplicates
                c.quarantined += len(clean.rejected)
                result.read += clean.read
                result.quarantined += len(clean.rejected)
                for r in clean.rejected:
                    quarantine_rows.append((pid, r))
                    result.quarantine_kinds[reason_kind(r)] += 1
                ts, value = clean.ts, clean.value
                if ts.size == 0:
                    continue
                maxes = file_max.setdefault(pid, dict(previous.get((pid, f.identity.path), {})))
                before = previous.get((pid, f.identity.path), {}).get(metric_name)
                maxes[metric_name] = max(int(ts[-1]), maxes.get(metric_name, int(ts[-1])))
                if before is not None and not options.full:
                    start = int(np.searchsorted(ts, before - lag_us, side="left"))
                    c.present += start
                    ts, value = ts[start:], value[start:]
                if ts.size:
                    m = merged.setdefault((pid, metric_name), _Merged(participant, metric))
                    m.ts.append(ts)
                    m.value.append(value)
            for pid in {p.id for p in f.resolve.values()} | set(file_max):
                cur.execute(
                    _MANIFEST,
                    (
                        pid,
                        options.source,
                        f.identity.path,
                        f.identity.size,
                        f.identity.sha256,
                        json.dumps(file_max.get(pid, previous.get((pid, f.identity.path), {}))),
                        options.run_id,
                    ),
                )
            if f.parsed.sleep:
                new, present = store_sleep(
                    cur, [(f.resolve[s.participant].id, s) for s in f.parsed.sleep], options.source
                )
                result.sleep_new += new
                result.sleep_present += present
        for (_, metric_name), m in sorted(merged.items(), key=lambda kv: kv[0]):
            ts, value, dups = _keep_last(np.concatenate(m.ts), np.concatenate(m.value))
            counts[metric_name].duplicates += dups
            _write_samples(cur, m.participant, m.metric, ts, value, options, counts[metric_name])
        store_rejected(cur, quarantine_rows, options.source, options.run_id)
    return dict(counts)


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
