"""The nightly sync: every consented participant × data type, from (cursor − lag) to now, loaded window by
window through the loader; participants run concurrently in a bounded pool and one that fails is deferred.

Pages arrive newest first, so a window is loaded only once all its pages are in, and windows go oldest
first: a crash loses at most the window in flight and can never move a cursor past data not yet stored.
Where a type starts: the older of its cursor (newest sample loaded, any of its metrics) and how far the
last sync fetched, minus the lag, never more than FITPIPE_GOOGLE_MAX_LOOKBACK_DAYS back; a grant never
synced starts FITPIPE_GOOGLE_INITIAL_DAYS back (or at enrolment, if later); older history: backfill.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from fitpipe.db import connect
from fitpipe.errors import ConfigError
from fitpipe.google_health.datatypes import DataType, data_types_for_scopes, get_data_type
from fitpipe.google_health.errors import ApiError, ReconsentRequired
from fitpipe.google_health.grants import TokenSource, read_grant
from fitpipe.google_health.settings import GoogleHealthSettings, get_google_health_settings
from fitpipe.google_health.windows import windows_between
from fitpipe.participants import PARTICIPANT_SELECT, Participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.notified import pull_notifications
from fitpipe_ingest.google_health.run import Outcome, RunSink, SyncOptions, SyncReport, run_pool
from fitpipe_ingest.google_health.source import SOURCE_NAME, GoogleHealthSource
from fitpipe_ingest.google_health.state import advance_sync, load_window, sync_position

__all__ = ["consented_participants", "sync_start", "data_types_of", "sync_participant", "sync_google_health"]

log = logging.getLogger(__name__)


def consented_participants(
    conn: psycopg.Connection, study: str | None = None, external_id: str | None = None
) -> list[Participant]:
    """Active participants with a usable Google grant (not revoked, source not disabled or awaiting consent)."""
    with conn.cursor(row_factory=class_row(Participant)) as cur:
        return cur.execute(
            PARTICIPANT_SELECT
            + """
            JOIN oauth_grants g ON g.participant_id = p.id AND g.provider = %(src)s AND g.revoked_at IS NULL
            LEFT JOIN participant_sources ps ON ps.participant_id = p.id AND ps.source = %(src)s
            WHERE p.status = 'active' AND coalesce(ps.status, 'configured') NOT IN ('disabled', 'needs_reconsent')
              AND (%(study)s::text IS NULL OR s.name = %(study)s)
              AND (%(ext)s::text IS NULL OR p.external_id = %(ext)s)
            ORDER BY s.name, p.external_id""",
            {"src": SOURCE_NAME, "study": study, "ext": external_id},
        ).fetchall()


def sync_start(
    participant: Participant,
    cursor: datetime | None,
    fetched_until: datetime | None,
    now: datetime,
    lag: timedelta,
    settings: GoogleHealthSettings,
) -> datetime:
    if fetched_until is None:  # never synced nightly (a webhook pull may have set a cursor: not a position)
        start = now - settings.initial_window
        if participant.enrolment_start is not None:
            start = max(start, participant.enrolment_start)
    else:
        start = min(fetched_until, cursor or fetched_until) - lag
    return max(start, now - settings.max_lookback)


def data_types_of(conn: psycopg.Connection, participant: Participant, options: SyncOptions) -> list[DataType]:
    grant = read_grant(conn, participant.id)
    if grant is None or grant.revoked_at is not None:
        raise ReconsentRequired("no usable Google grant", hint="send the participant a consent link")
    allowed = data_types_for_scopes(grant.scopes)
    if options.data_types is not None:
        wanted = {get_data_type(n).name for n in options.data_types}
        allowed = [t for t in allowed if t.name in wanted]
    return allowed


def sync_participant(
    conn: psycopg.Connection,
    source: GoogleHealthSource,
    participant: Participant,
    options: SyncOptions,
    sink: RunSink,
    outcome: Outcome,
    tokens: TokenSource,
) -> None:
    """Targeted pulls of queued webhook notifications, then every data type from its start to now."""
    pull_notifications(conn, source, participant, tokens, options, sink, outcome)
    for data_type in data_types_of(conn, participant, options):
        now = options.clock_now()
        cursor, fetched = sync_position(conn, participant.id, SOURCE_NAME, data_type)
        start = sync_start(participant, cursor, fetched, now, options.lag, source.settings)
        for window in windows_between(data_type, start, now, participant.zone):
            try:
                points = source.fetch_window(participant.id, tokens, window, now)
            except ApiError as exc:
                if exc.status != 403:
                    raise
                # the person unticked this kind of data at Google: the others still sync
                log.warning(
                    "participant %s: %s not shared (%s); skipped", outcome.name, data_type.name, exc.reason
                )
                outcome.skipped.append(data_type.name)
                break
            load = load_window(
                conn,
                participant,
                window,
                points,
                options.load_options(),
                advance=advance_sync(
                    participant.id, window, window.fetch_end(now), len(points), options.run_id
                ),
            )
            sink.record(participant, outcome, load)


def _delete_expired_states(conn: psycopg.Connection) -> None:
    conn.execute("DELETE FROM oauth_states WHERE expires_at < now() - interval '30 days'")


def sync_google_health(
    url: str,
    *,
    summary: IngestSummary,
    options: SyncOptions,
    study: str | None = None,
    settings: GoogleHealthSettings | None = None,
    source: GoogleHealthSource | None = None,
    on_outcome: Callable[[Outcome, int, int], None] | None = None,
) -> SyncReport:
    """The daily run's live pass; the report's details are merged into the summary (the run's details)."""
    report = SyncReport()
    with connect(url, autocommit=True) as conn:
        participants = consented_participants(conn, study)
        if participants:
            _delete_expired_states(conn)
    if participants:
        own = source is None
        try:
            source = source or GoogleHealthSource.create(settings or get_google_health_settings())
        except ConfigError as exc:
            report.config_error = f"{len(participants)} consented participant(s) not synced: {exc.message}"
        else:
            try:
                report.outcomes = run_pool(
                    url,
                    source,
                    participants,
                    options,
                    RunSink(summary),
                    work=sync_participant,
                    on_outcome=on_outcome,
                )
            finally:
                report.api = source.api.stats.as_dict()
                report.token_refresh_failures = source.take_refresh_failures()
                if own:
                    source.close()
    report.merge_into(summary)
    return report
