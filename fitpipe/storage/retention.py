"""Per-study retention after the study's end: once `ends_on + retention_days` has passed, every participant
of the study is erased (fitpipe_apply_retention() in sql/0008_storage.sql).

Chunks hold many participants (a samples chunk is one day of everyone), so dropping chunks is exact only
for a chunk whose participants are all due: the function checks each chunk's participants (a loose index
scan, one probe per participant) and drops such chunks whole with drop_chunks on the chunk's own range; in
a database that holds one study (fitpipe's deployment model: one pipeline per study) that is every chunk.
Rows of due participants in chunks shared with others are deleted, as an erasure does. Each participant
gets an `erase_participant` audit row with reason "retention".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import orjson
import psycopg

from fitpipe.errors import InputError, NotFoundError

__all__ = ["StudyRetention", "RetentionResult", "set_retention", "list_retention", "apply_retention"]


@dataclass(frozen=True)
class StudyRetention:
    study: str
    ends_on: date | None
    retention_days: int | None
    participants: int
    """Participants not erased yet."""

    @property
    def erase_after(self) -> date | None:
        """The last day the data is kept; erased from the next day on."""
        if self.ends_on is None or self.retention_days is None:
            return None
        return self.ends_on + timedelta(days=self.retention_days)


@dataclass(frozen=True)
class RetentionResult:
    study: str
    participants: int
    """Participants erased."""
    chunks_dropped: int


def set_retention(
    conn: psycopg.Connection, study: str, *, ends_on: date | None, retention_days: int | None
) -> StudyRetention:
    if retention_days is not None and retention_days < 0:
        raise InputError(f"retention must be 0 or more days, got {retention_days}", field="retention_days")
    row = conn.execute(
        "UPDATE studies SET ends_on = %s, retention_days = %s WHERE name = %s RETURNING name",
        (ends_on, retention_days, study),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"unknown study {study}", hint="list studies with `fitpipe retention show`")
    return next(r for r in list_retention(conn) if r.study == study)


def list_retention(conn: psycopg.Connection) -> list[StudyRetention]:
    rows = conn.execute(
        """SELECT s.name, s.ends_on, s.retention_days, count(p.id) FILTER (WHERE p.erased_at IS NULL)
           FROM studies s LEFT JOIN participants p ON p.study_id = s.id GROUP BY s.id ORDER BY s.name"""
    ).fetchall()
    return [StudyRetention(r[0], r[1], r[2], int(r[3])) for r in rows]


def apply_retention(
    conn: psycopg.Connection, on_day: date, *, actor: dict[str, object], dry_run: bool = False
) -> list[RetentionResult]:
    """Erase the participants of every study whose retention ended before `on_day` (one transaction)."""
    if dry_run:
        return [
            RetentionResult(r[0], int(r[1]), 0)
            for r in conn.execute("SELECT study, participants FROM fitpipe_retention_due(%s)", (on_day,))
        ]
    with conn.transaction():
        rows = conn.execute(
            "SELECT study, participants, chunks_dropped FROM fitpipe_apply_retention(%s, NULL, NULL, %s::jsonb)",
            (on_day, orjson.dumps(actor).decode()),
        ).fetchall()
    return [RetentionResult(r[0], int(r[1]), int(r[2])) for r in rows]
