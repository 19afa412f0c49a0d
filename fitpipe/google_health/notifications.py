"""Webhook notifications: reading Google's payload and queueing it for the participant it names (the API does
this); the ingest job drains the queue (notified_participants here, the pull in
fitpipe_ingest/google_health/notified.py).

A payload is `{"data": {...}}` or a JSON array of those (both were seen). A deletion is pulled like an
update; samples already stored are kept (the loader only adds and updates), and the run counts them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from fitpipe.google_health.datatypes import BY_NAME
from fitpipe.google_health.grants import PROVIDER
from fitpipe.localtime import parse_rfc3339

__all__ = [
    "Notification",
    "parse_notifications",
    "queue_notifications",
    "notified_participants",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    health_user_id: str
    data_type: str
    operation: str
    start: datetime
    end: datetime


def parse_notifications(payload: Any) -> tuple[list[Notification], int]:
    """(notifications of data types fitpipe pulls, number of entries ignored as malformed or not pulled)."""
    entries = payload if isinstance(payload, list) else [payload]
    found: list[Notification] = []
    ignored = 0
    for entry in entries:
        data = entry.get("data") if isinstance(entry, dict) else None
        if not isinstance(data, dict) or data.get("dataType") not in BY_NAME or not data.get("healthUserId"):
            ignored += 1
            continue
        operation = str(data.get("operation", "UPSERT")).upper()
        operation = operation if operation in ("UPSERT", "DELETE") else "UPSERT"
        for interval in data.get("intervals") or []:
            span = interval.get("physicalTimeInterval") if isinstance(interval, dict) else None
            start, end = (
                (_instant(span.get("startTime")), _instant(span.get("endTime")))
                if isinstance(span, dict)
                else (None, None)
            )
            if start is None or end is None or end < start:
                ignored += 1
                continue
            found.append(
                Notification(str(data["healthUserId"]), str(data["dataType"]), operation, start, end)
            )
    return found, ignored


def queue_notifications(conn: psycopg.Connection, notifications: list[Notification]) -> tuple[int, int]:
    """(queued, unknown users); a notification already pending is not queued again."""
    queued = unknown = 0
    users: dict[str, int | None] = {}
    for n in notifications:
        if n.health_user_id not in users:
            row = conn.execute(
                "SELECT participant_id FROM oauth_grants WHERE provider = %s AND health_user_id = %s",
                (PROVIDER, n.health_user_id),
            ).fetchone()
            users[n.health_user_id] = int(row[0]) if row else None
        participant_id = users[n.health_user_id]
        if participant_id is None:
            unknown += 1
            continue
        row = conn.execute(
            """INSERT INTO google_health_notifications (participant_id, data_type, operation, start_time, end_time)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (participant_id, data_type, operation, start_time, end_time) WHERE pulled_at IS NULL
               DO NOTHING RETURNING id""",
            (participant_id, n.data_type, n.operation, n.start, n.end),
        ).fetchone()
        queued += row is not None
    return queued, unknown


def notified_participants(conn: psycopg.Connection, study: str | None = None) -> list[int]:
    rows = conn.execute(
        """SELECT DISTINCT n.participant_id FROM google_health_notifications n
           JOIN participants p ON p.id = n.participant_id JOIN studies s ON s.id = p.study_id
           WHERE n.pulled_at IS NULL AND (%s::text IS NULL OR s.name = %s) ORDER BY 1""",
        (study, study),
    ).fetchall()
    return [int(r[0]) for r in rows]


def _instant(text: object) -> datetime | None:
    return parse_rfc3339(text)
