-- 0004 google health: participants' OAuth grants (tokens encrypted by the application), consent links in
-- flight, the live source's per-data-type sync state, resumable backfills, and queued webhook notifications.
-- Idempotent: every statement may run again. Needs 0001 and 0002 only.

CREATE TABLE IF NOT EXISTS oauth_grants (
    participant_id     integer NOT NULL REFERENCES participants (id),
    provider           text NOT NULL,
    health_user_id     text NOT NULL,
    legacy_user_id     text,
    scopes             text[] NOT NULL DEFAULT '{}',
    refresh_token      bytea NOT NULL,
    access_token       bytea,
    access_expires_at  timestamptz,
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    refreshed_at       timestamptz,
    revoked_at         timestamptz,
    revoke_reason      text,
    PRIMARY KEY (participant_id, provider),
    UNIQUE (provider, health_user_id)
);
COMMENT ON TABLE oauth_grants IS 'A participant''s consent to read their data from a provider (Google Health API): tokens encrypted with FITPIPE_TOKEN_KEY (AES-256-GCM, bound to the row). One account can be linked to one participant only.';
COMMENT ON COLUMN oauth_grants.participant_id IS 'participants.id.';
COMMENT ON COLUMN oauth_grants.provider IS 'Who issued the grant: google_health.';
COMMENT ON COLUMN oauth_grants.health_user_id IS 'The provider''s stable user id (Google''s healthUserId from /v4/users/me/identity); never changes.';
COMMENT ON COLUMN oauth_grants.legacy_user_id IS 'The Fitbit user id of the account (legacyUserId), when it has one.';
COMMENT ON COLUMN oauth_grants.scopes IS 'OAuth scopes the participant granted (they may untick some: data types outside them are not pulled).';
COMMENT ON COLUMN oauth_grants.refresh_token IS 'Encrypted refresh token. A refresh that returns a new one replaces it in the same transaction, before the access token is used.';
COMMENT ON COLUMN oauth_grants.access_token IS 'Encrypted access token (about an hour), shared by every process that syncs the participant.';
COMMENT ON COLUMN oauth_grants.access_expires_at IS 'When the access token expires.';
COMMENT ON COLUMN oauth_grants.version IS 'Incremented on every change; refreshes update WHERE version = the one read (compare-and-swap) under a row lock.';
COMMENT ON COLUMN oauth_grants.created_at IS 'When the grant was first stored.';
COMMENT ON COLUMN oauth_grants.updated_at IS 'When the grant last changed (consent or refresh).';
COMMENT ON COLUMN oauth_grants.refreshed_at IS 'When the access token was last refreshed.';
COMMENT ON COLUMN oauth_grants.revoked_at IS 'When the grant stopped working (invalid_grant, revoked by the participant); the participant must consent again.';
COMMENT ON COLUMN oauth_grants.revoke_reason IS 'Why it stopped working (no token text).';

CREATE TABLE IF NOT EXISTS oauth_states (
    state_hash      bytea PRIMARY KEY,
    participant_id  integer NOT NULL REFERENCES participants (id),
    provider        text NOT NULL,
    code_verifier   bytea NOT NULL,
    redirect_uri    text NOT NULL,
    token_id        integer REFERENCES api_tokens (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX IF NOT EXISTS oauth_states_expires ON oauth_states (expires_at);
COMMENT ON TABLE oauth_states IS 'Consent links handed out and not yet completed: the OAuth state names the participant the callback stores the grant for. Used once; the sync deletes expired rows.';
COMMENT ON COLUMN oauth_states.state_hash IS 'SHA-256 of the state parameter (the state itself is only in the link).';
COMMENT ON COLUMN oauth_states.participant_id IS 'Whose consent link it is.';
COMMENT ON COLUMN oauth_states.provider IS 'google_health.';
COMMENT ON COLUMN oauth_states.code_verifier IS 'Encrypted PKCE code verifier sent with the code exchange.';
COMMENT ON COLUMN oauth_states.redirect_uri IS 'The redirect URI of the consent URL (the code exchange must repeat it).';
COMMENT ON COLUMN oauth_states.token_id IS 'The API token that asked for the link.';
COMMENT ON COLUMN oauth_states.created_at IS 'When the link was made.';
COMMENT ON COLUMN oauth_states.expires_at IS 'After this the callback refuses the state.';
COMMENT ON COLUMN oauth_states.used_at IS 'When a callback completed with it; a used state is refused.';

CREATE TABLE IF NOT EXISTS google_health_sync (
    participant_id  integer NOT NULL REFERENCES participants (id),
    data_type       text NOT NULL,
    fetched_until   timestamptz NOT NULL,
    last_fetch_at   timestamptz NOT NULL DEFAULT now(),
    points          integer NOT NULL DEFAULT 0,
    run_id          bigint REFERENCES ingest_runs (id),
    PRIMARY KEY (participant_id, data_type)
);
COMMENT ON TABLE google_health_sync IS 'Per participant and Google Health data type, how far the nightly sync has fetched and loaded, committed with the window''s rows. With the metric cursors it sets where the next sync starts, also for types that had no data.';
COMMENT ON COLUMN google_health_sync.participant_id IS 'participants.id.';
COMMENT ON COLUMN google_health_sync.data_type IS 'API data type (heart-rate, steps, sleep, ...).';
COMMENT ON COLUMN google_health_sync.fetched_until IS 'End of the newest window fetched and loaded completely (physical time).';
COMMENT ON COLUMN google_health_sync.last_fetch_at IS 'When that window was loaded.';
COMMENT ON COLUMN google_health_sync.points IS 'Data points in that window.';
COMMENT ON COLUMN google_health_sync.run_id IS 'The run that loaded it.';

CREATE TABLE IF NOT EXISTS google_health_backfills (
    participant_id  integer NOT NULL REFERENCES participants (id),
    data_type       text NOT NULL,
    since           date NOT NULL,
    until           date NOT NULL,
    done_until      date NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    run_id          bigint REFERENCES ingest_runs (id),
    PRIMARY KEY (participant_id, data_type, since)
);
COMMENT ON TABLE google_health_backfills IS 'Progress of `fitpipe backfill`: windows are loaded oldest first and done_until moves in the same transaction, so an interrupted backfill resumes where it stopped.';
COMMENT ON COLUMN google_health_backfills.participant_id IS 'participants.id.';
COMMENT ON COLUMN google_health_backfills.data_type IS 'API data type.';
COMMENT ON COLUMN google_health_backfills.since IS 'First local day asked for (--since).';
COMMENT ON COLUMN google_health_backfills.until IS 'Day after the last local day asked for (--until, default: tomorrow when started).';
COMMENT ON COLUMN google_health_backfills.done_until IS 'Local days before this are loaded.';
COMMENT ON COLUMN google_health_backfills.started_at IS 'When the backfill was first started.';
COMMENT ON COLUMN google_health_backfills.updated_at IS 'When done_until last moved.';
COMMENT ON COLUMN google_health_backfills.finished_at IS 'When it reached until; NULL while unfinished.';
COMMENT ON COLUMN google_health_backfills.run_id IS 'The run that last moved it.';

CREATE TABLE IF NOT EXISTS google_health_notifications (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    participant_id  integer NOT NULL REFERENCES participants (id),
    data_type       text NOT NULL,
    operation       text NOT NULL CHECK (operation IN ('UPSERT', 'DELETE')),
    start_time      timestamptz NOT NULL,
    end_time        timestamptz NOT NULL CHECK (end_time >= start_time),
    received_at     timestamptz NOT NULL DEFAULT now(),
    pulled_at       timestamptz,
    run_id          bigint REFERENCES ingest_runs (id)
);
CREATE UNIQUE INDEX IF NOT EXISTS google_health_notifications_pending
    ON google_health_notifications (participant_id, data_type, operation, start_time, end_time) WHERE pulled_at IS NULL;
COMMENT ON TABLE google_health_notifications IS 'Webhook notifications waiting for their targeted pull (the API only queues them; the ingest job pulls). A repeated delivery of a pending one is not queued twice.';
COMMENT ON COLUMN google_health_notifications.id IS 'Sequence number.';
COMMENT ON COLUMN google_health_notifications.participant_id IS 'The participant whose healthUserId the notification named.';
COMMENT ON COLUMN google_health_notifications.data_type IS 'API data type that changed.';
COMMENT ON COLUMN google_health_notifications.operation IS 'UPSERT or DELETE (deletions are re-pulled; samples already stored are kept).';
COMMENT ON COLUMN google_health_notifications.start_time IS 'Start of the changed physical-time interval.';
COMMENT ON COLUMN google_health_notifications.end_time IS 'End of the changed interval.';
COMMENT ON COLUMN google_health_notifications.received_at IS 'When the webhook delivered it.';
COMMENT ON COLUMN google_health_notifications.pulled_at IS 'When the interval was pulled and loaded; NULL while pending.';
COMMENT ON COLUMN google_health_notifications.run_id IS 'The run that pulled it.';

-- The API role (0002) stores consent: it writes states, grants and the source row, and queues notifications.
-- It never reads token ciphertexts: SELECT on oauth_grants is limited to the columns without secrets.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fitpipe_api') THEN
        REVOKE ALL ON oauth_grants FROM fitpipe_api;
        GRANT SELECT (participant_id, provider, health_user_id, legacy_user_id, scopes, version, created_at,
                      updated_at, refreshed_at, revoked_at, revoke_reason, access_expires_at) ON oauth_grants TO fitpipe_api;
        GRANT INSERT ON oauth_grants TO fitpipe_api;
        GRANT UPDATE (health_user_id, legacy_user_id, scopes, refresh_token, access_token, access_expires_at, version,
                      updated_at, revoked_at, revoke_reason) ON oauth_grants TO fitpipe_api;
        GRANT SELECT, INSERT ON oauth_states TO fitpipe_api;
        GRANT UPDATE (used_at) ON oauth_states TO fitpipe_api;
        GRANT INSERT ON participant_sources TO fitpipe_api;
        GRANT UPDATE (status, last_error, configured_at) ON participant_sources TO fitpipe_api;
        GRANT SELECT, INSERT ON google_health_notifications TO fitpipe_api;
        GRANT SELECT ON google_health_sync, google_health_backfills TO fitpipe_api;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO fitpipe_api;
    END IF;
END
$$;
