"""Loading one parsed file: samples, rollups, cursors, sleep, quarantine and the file manifest, in ONE transaction.

Per (participant, metric) batch, after validation and de-duplication:
- rows older than the file's previous newest sample minus the lag window are skipped (the file was
  loaded before and has grown; `full=True` re-merges everything);
- if nothing is stored in the batch's time span, the rows are COPYed straight into `samples` and the
  rollups are updated additively (the fast path: new data);
- otherwise they are COPYed into a staging table and merged with INSERT … ON CONFLICT (existing rows
  with the same value are left alone; changed values are updated) and the touched hours are
  re-aggregated.
A per-participant advisory lock serialises concurrent loads of one participant, so the span check
cannot race. A crash at any point rolls the whole file back; rerunning converges to the same rows.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import psycopg

from fitpipe.catalog import BY_NAME, Metric
from fitpipe.errors import InputError
from fitpipe.participants import Participant
from ingest_job.copy import copy_samples
from ingest_job.counts import FileResult, MetricCounts
from ingest_job.localtime import us_to_datetime
from ingest_job.quarantine import reason_kind, store_rejected
from ingest_job.records import ParsedFile, Rejected, SampleBatch, SleepSession
from ingest_job.rollups import add_minute_aggregates, hour_ranges, recompute_ranges
from ingest_job.sleep_store import store_sleep
from ingest_job.validate import clean_batch

__all__ = ["LoadOptions", "FileIdentity", "load_parsed_file", "PARTICIPANT_LOCK"]

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
class _Group:
    participant: Participant
    batches: dict[str, list[SampleBatch]] = field(default_factory=lambda: defaultdict(list))
    sleep: list[SleepSession] = field(default_factory=list)


def _concat(batches: list[SampleBatch]) -> SampleBatch:
    if len(batches) == 1:
        return batches[0]

    def cat(name: str) -> np.ndarray | None:
        parts = [getattr(b, name) for b in batches]
        if all(p is None for p in parts):
            return None
        return np.concatenate([p if p is not None else np.full(len(b), -1, np.int32) for p, b in zip(parts, batches, strict=True)])

    first = batches[0]
    return SampleBatch(
        metric=first.metric, ts=np.concatenate([b.ts for b in batches]),
        value=np.concatenate([b.value for b in batches]), file=first.file,
        line=cat("line"), item=cat("item"), participant=first.participant,
    )


def _group(parsed: ParsedFile, resolve: dict[str | None, Participant]) -> dict[int, _Group]:
    groups: dict[int, _Group] = {}

    def group_of(name: str | None) -> _Group:
        participant = resolve[name]
        return groups.setdefault(participant.id, _Group(participant))

    for batch in parsed.batches:
        if batch.metric not in BY_NAME:
            raise InputError(
                f"parser emitted unknown metric {batch.metric!r}", file=parsed.file,
                hint="this is a bug in the source module: metric names must come from fitpipe/catalog.py",
            )
        group_of(batch.participant).batches[batch.metric].append(batch)
    for session in parsed.sleep:
        group_of(session.participant).sleep.append(session)
    return groups


def _previous_manifest(cur: psycopg.Cursor, participant_id: int, path: str) -> tuple[str | None, dict[str, int]]:
    row = cur.execute(
        "SELECT sha256, max_ts FROM ingest_files WHERE participant_id = %s AND path = %s", (participant_id, path)
    ).fetchone()
    return (row[0], dict(row[1])) if row else (None, {})


def _load_batch(
    cur: psycopg.Cursor, participant: Participant, metric: Metric, batch: SampleBatch, options: LoadOptions,
    file_cursor_us: int | None, counts: MetricCounts, rejected_out: list[Rejected],
) -> int | None:
    """Load one metric's samples of one participant; returns the newest timestamp loaded (µs) or None."""
    clean = clean_batch(batch, metric, participant.external_id)
    counts.read += clean.read
    counts.duplicates += clean.duplicates
    rejected_out.extend(clean.rejected)
    ts, value = clean.ts, clean.value
    if ts.size == 0:
        return None
    newest = int(ts[-1])
    if file_cursor_us is not None and not options.full:
        start = np.searchsorted(ts, file_cursor_us - int(options.lag.total_seconds() * 1_000_000), side="left")
        counts.present += int(start)
        ts, value = ts[start:], value[start:]
        if ts.size == 0:
            return newest
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
        """
        INSERT INTO ingest_cursors AS c (participant_id, source, metric_id, initial_value, last_value, lag)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (participant_id, source, metric_id) DO UPDATE SET
            initial_value = LEAST(c.initial_value, EXCLUDED.initial_value),
            last_value = GREATEST(c.last_value, EXCLUDED.last_value),
            lag = EXCLUDED.lag,
            updated_at = CASE WHEN EXCLUDED.last_value > c.last_value THEN now() ELSE c.updated_at END
        """,
        (participant.id, options.source, metric.id, lo, hi, options.lag),
    )
    return newest


def load_parsed_file(
    conn: psycopg.Connection,
    parsed: ParsedFile,
    resolve: dict[str | None, Participant],
    identity: FileIdentity,
    options: LoadOptions,
) -> FileResult:
    """Write everything of one parsed file in one transaction; return what happened.

    `resolve` maps the participant names the file uses (None: the participant ingested for) to
    participants; resolving them is the caller's job, so an unknown participant fails before any write.
    """
    started = time.perf_counter()
    result = FileResult(file=identity.path, kind=parsed.kind, source=options.source)
    groups = _group(parsed, resolve)
    with conn.transaction(), conn.cursor() as cur:
        for pid in sorted(groups):
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (PARTICIPANT_LOCK, pid))
        quarantine_rows: list[tuple[int | None, Rejected]] = []
        for r in parsed.rejected:
            owner = resolve.get(r.participant) or resolve.get(None)
            quarantine_rows.append((owner.id if owner else None, r))
        for pid, group in sorted(groups.items()):
            previous_sha, previous_max = _previous_manifest(cur, pid, identity.path)
            file_max: dict[str, int] = dict(previous_max)
            rejected: list[Rejected] = []
            for metric_name, batches in sorted(group.batches.items()):
                metric = BY_NAME[metric_name]
                counts = result.counts(metric_name)
                cursor_us = previous_max.get(metric_name) if previous_sha is not None else None
                n_rejected = len(rejected)
                newest = _load_batch(cur, group.participant, metric, _concat(batches), options, cursor_us, counts, rejected)
                counts.quarantined += len(rejected) - n_rejected
                if newest is not None:
                    file_max[metric_name] = max(newest, file_max.get(metric_name, newest))
            if group.sleep:
                new, present = store_sleep(cur, [(pid, s) for s in group.sleep], options.source)
                result.sleep_new += new
                result.sleep_present += present
            quarantine_rows.extend((pid, r) for r in rejected)
            cur.execute(
                """
                INSERT INTO ingest_files (participant_id, source, path, size, sha256, max_ts, run_id)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (participant_id, path) DO UPDATE SET
                    source = EXCLUDED.source, size = EXCLUDED.size, sha256 = EXCLUDED.sha256,
                    max_ts = EXCLUDED.max_ts, run_id = EXCLUDED.run_id, loaded_at = now()
                """,
                (pid, options.source, identity.path, identity.size, identity.sha256, json.dumps(file_max), options.run_id),
            )
        store_rejected(cur, quarantine_rows, options.source, options.run_id)
        result.quarantined = len(quarantine_rows)
        for _, r in quarantine_rows:
            result.quarantine_kinds[reason_kind(r)] += 1
    result.seconds = time.perf_counter() - started
    return result
