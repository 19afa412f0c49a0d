"""Where the live source stands, in the database: the data types' sync positions, backfill progress, and
loading one fetched window through the loader together with the position it advances (one transaction).

A window's manifest entry (ingest_files, path `google_health/<type>/<first day>_<end day>`) holds a hash
of the points fetched: a window re-fetched inside the lag with the same content is not re-merged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import orjson
import psycopg

from fitpipe.google_health.datatypes import DataType
from fitpipe.google_health.windows import Window
from fitpipe.participants import Participant
from fitpipe_ingest.counts import FileResult, MetricCounts
from fitpipe_ingest.google_health.mapping import MAPPING_VERSION, Point, map_points
from fitpipe_ingest.load import FileIdentity, LoadOptions, PendingFile, load_files

__all__ = [
    "WindowLoad",
    "load_window",
    "sync_position",
    "advance_sync",
    "backfill_progress",
    "advance_backfill",
    "finish_backfill",
    "content_hash",
]


@dataclass
class WindowLoad:
    window: Window
    points: int
    changed: bool
    """False: the same points were loaded before; nothing was written but the position."""
    counts: dict[str, MetricCounts] = field(default_factory=dict)
    result: FileResult | None = None


def content_hash(points: list[Point], zone_key: str) -> str:
    digest = hashlib.sha256(f"{MAPPING_VERSION}|{zone_key}|".encode())
    digest.update(orjson.dumps(points, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def load_window(
    conn: psycopg.Connection,
    participant: Participant,
    window: Window,
    points: list[Point],
    options: LoadOptions,
    *,
    advance: Callable[[psycopg.Connection], None] | None = None,
) -> WindowLoad:
    """Load a completely fetched window (all its pages); `advance` moves a position in the same transaction."""
    path = window.path()
    digest = content_hash(points, participant.timezone)
    row = conn.execute(
        "SELECT sha256 FROM ingest_files WHERE participant_id = %s AND path = %s", (participant.id, path)
    ).fetchone()
    if row is not None and row[0] == digest:
        if advance is not None:
            with conn.transaction():
                advance(conn)
        return WindowLoad(window, len(points), changed=False)
    parsed = map_points(window.data_type, points, path=path, zone=participant.zone)
    pending = PendingFile(
        parsed,
        {None: participant, participant.external_id: participant},
        FileIdentity(path=path, size=len(points), sha256=digest),
    )
    with conn.transaction():
        counts = load_files(conn, [pending], options)
        if advance is not None:
            advance(conn)
    return WindowLoad(window, len(points), changed=True, counts=counts, result=pending.result)


def sync_position(
    conn: psycopg.Connection,
    participant_id: int,
    source: str,
    data_type: DataType,
) -> tuple[datetime | None, datetime | None]:
    """(the type's cursor: newest sample of any of its metrics, how far the nightly sync fetched)."""
    row = conn.execute(
        """SELECT (SELECT max(c.last_value) FROM ingest_cursors c JOIN metrics m ON m.id = c.metric_id
                   WHERE c.participant_id = %(p)s AND c.source = %(s)s AND m.name = ANY(%(metrics)s)),
                  (SELECT fetched_until FROM google_health_sync WHERE participant_id = %(p)s AND data_type = %(t)s)""",
        {"p": participant_id, "s": source, "metrics": list(data_type.metrics), "t": data_type.name},
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def advance_sync(
    participant_id: int, window: Window, fetched_until: datetime, points: int, run_id: int | None
) -> Callable[[psycopg.Connection], None]:
    def run(conn: psycopg.Connection) -> None:
        conn.execute(
            """INSERT INTO google_health_sync AS g (participant_id, data_type, fetched_until, points, run_id)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (participant_id, data_type) DO UPDATE SET
                   fetched_until = greatest(g.fetched_until, EXCLUDED.fetched_until), last_fetch_at = now(),
                   points = EXCLUDED.points, run_id = EXCLUDED.run_id""",
            (participant_id, window.data_type.name, fetched_until, points, run_id),
        )

    return run


def backfill_progress(
    conn: psycopg.Connection,
    participant_id: int,
    data_type: DataType,
    since: date,
    until: date,
    run_id: int | None,
) -> date:
    """Where a backfill of this participant, type and start resumes (creating its row the first time)."""
    row = conn.execute(
        """INSERT INTO google_health_backfills AS b (participant_id, data_type, since, until, done_until, run_id)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (participant_id, data_type, since) DO UPDATE SET
               until = greatest(b.until, EXCLUDED.until), run_id = EXCLUDED.run_id,
               finished_at = CASE WHEN EXCLUDED.until > b.done_until THEN NULL ELSE b.finished_at END
           RETURNING done_until""",
        (participant_id, data_type.name, since, until, since, run_id),
    ).fetchone()
    assert row is not None
    return row[0]


def advance_backfill(
    participant_id: int, data_type: DataType, since: date, done_until: date, run_id: int | None
) -> Callable[[psycopg.Connection], None]:
    def run(conn: psycopg.Connection) -> None:
        conn.execute(
            """UPDATE google_health_backfills SET done_until = greatest(done_until, %s), updated_at = now(), run_id = %s
               WHERE participant_id = %s AND data_type = %s AND since = %s""",
            (done_until, run_id, participant_id, data_type.name, since),
        )

    return run


def finish_backfill(conn: psycopg.Connection, participant_id: int, data_type: DataType, since: date) -> None:
    conn.execute(
        """UPDATE google_health_backfills SET finished_at = now()
           WHERE participant_id = %s AND data_type = %s AND since = %s AND done_until >= until""",
        (participant_id, data_type.name, since),
    )
