"""Webhook notifications: reading Google's payload, queueing it for the participant it names (the API does
this), and the targeted pull that loads the windows holding the notified intervals (the ingest job does it).

A payload is `{"data": {...}}` or a JSON array of those (both were seen). A deletion is pulled like an
update; samples already stored are kept (the loader only adds and updates), and the run counts them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from fitpipe.participants import Participant
from fitpipe_ingest.google_health.datatypes import BY_NAME, data_types_for_scopes
from fitpipe_ingest.google_health.errors import ApiError
from fitpipe_ingest.google_health.grants import PROVIDER, TokenSource, read_grant
from fitpipe_ingest.google_health.run import Outcome, RunSink, SyncOptions
from fitpipe_ingest.google_health.source import GoogleHealthSource
from fitpipe_ingest.google_health.state import load_window
from fitpipe_ingest.google_health.windows import Window, windows_between

__all__ = [
    "Notification",
    "parse_notifications",
    "queue_notifications",
    "pull_notifications",
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


def pull_notifications(
    conn: psycopg.Connection,
    source: GoogleHealthSource,
    participant: Participant,
    tokens: TokenSource,
    options: SyncOptions,
    sink: RunSink,
    outcome: Outcome,
) -> int:
    """Load the windows holding the participant's pending notified intervals; returns notifications pulled."""
    rows = conn.execute(
        """SELECT id, data_type, operation, start_time, end_time FROM google_health_notifications
           WHERE participant_id = %s AND pulled_at IS NULL ORDER BY data_type, start_time""",
        (participant.id,),
    ).fetchall()
    by_type: dict[str, list[tuple[int, str, datetime, datetime]]] = defaultdict(list)
    for nid, data_type, operation, start, end in rows:
        by_type[data_type].append((int(nid), operation, start, end))
    grant = read_grant(conn, participant.id)
    shared = {t.name for t in data_types_for_scopes(grant.scopes)} if grant is not None else set()
    pulled = 0
    for name, items in by_type.items():
        now = options.clock_now()
        windows: dict[str, Window] = {}
        for _, _, start, end in items:
            for w in windows_between(BY_NAME[name], start, end + timedelta(microseconds=1), participant.zone):
                if w.start < now and name in shared:  # a type not shared is dropped with its notices
                    windows.setdefault(w.path(), w)
        for window in sorted(windows.values(), key=lambda w: w.first_day):
            try:
                points = source.fetch_window(participant.id, tokens, window, now)
            except ApiError as exc:
                if exc.status != 403:
                    raise
                outcome.skipped.append(name)  # unticked at Google since: nothing to pull
                break
            sink.record(
                participant, outcome, load_window(conn, participant, window, points, options.load_options())
            )
        ids = [i for i, _, _, _ in items]
        conn.execute(
            "UPDATE google_health_notifications SET pulled_at = now(), run_id = %s WHERE id = ANY(%s)",
            (options.run_id, ids),
        )
        deletions = sum(1 for _, op, _, _ in items if op == "DELETE")
        if deletions:
            log.info(
                "participant %s/%s: %d deletion notice(s) for %s re-pulled; stored samples are kept",
                participant.study,
                participant.external_id,
                deletions,
                name,
            )
        pulled += len(ids)
    return pulled


def _instant(text: object) -> datetime | None:
    # imported here: the API receives notifications, and mapping pulls pandas in, which the API
    # process otherwise never needs (it costs ~50 MB of every API worker's memory)
    from fitpipe_ingest.google_health.mapping import parse_instant

    return parse_instant(text)
