"""The targeted pull of webhook notifications: load the windows holding a participant's notified intervals
(queued by the API through fitpipe.google_health.notifications).

A deletion is pulled like an update; samples already stored are kept (the loader only adds and updates),
and the run counts them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

import psycopg

from fitpipe.google_health.datatypes import BY_NAME, data_types_for_scopes
from fitpipe.google_health.errors import ApiError
from fitpipe.google_health.grants import TokenSource, read_grant
from fitpipe.google_health.windows import Window, windows_between
from fitpipe.participants import Participant
from fitpipe_ingest.google_health.run import Outcome, RunSink, SyncOptions
from fitpipe_ingest.google_health.source import GoogleHealthSource
from fitpipe_ingest.google_health.state import load_window

__all__ = ["pull_notifications"]

log = logging.getLogger(__name__)


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
