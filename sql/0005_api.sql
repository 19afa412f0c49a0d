-- 0005 API: the audit log keeps the server's own id of a request and, apart from it, the client's
-- X-Request-ID as far as the API accepted it; lookups of a run's files and quarantined records. Idempotent.
--
-- Before this migration the client's header was copied unchecked into request_id (a 200,000-character
-- header grew audit_log by 4 MB in one call, rows that can never be deleted, and any client could pass
-- itself off as another request). The new column is bounded by a check; existing rows are left as they
-- are. request_id gets no check here: the previous release still writes the client's header into it
-- during a rolling upgrade (an expand step only adds, docs/operations.md "Upgrades").

ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS client_request_id text;

COMMENT ON COLUMN audit_log.request_id IS 'The id the API gave the request (32 hex digits, also in its log lines as request_id); rows written before migration 0005 hold the client''s X-Request-ID instead.';
COMMENT ON COLUMN audit_log.client_request_id IS 'The client''s X-Request-ID when the API accepted it (1 to 128 of A-Z a-z 0-9 . _ : -), in log lines as client_request_id; NULL when absent or refused.';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'audit_log_client_request_id_bounded') THEN
        ALTER TABLE audit_log ADD CONSTRAINT audit_log_client_request_id_bounded
            CHECK (client_request_id ~ '^[A-Za-z0-9._:-]{1,128}$') NOT VALID;  -- old rows hold NULL: no scan
    END IF;
END
$$;
COMMENT ON CONSTRAINT audit_log_client_request_id_bounded ON audit_log IS 'The client''s request id as the API accepts it.';

-- /api/v1/ingest/runs counts a run's files and quarantined records per study when the run recorded no
-- per-study counts of its own: these keep that a lookup per run instead of a scan per request.
CREATE INDEX IF NOT EXISTS ingest_files_run ON ingest_files (run_id);
CREATE INDEX IF NOT EXISTS quarantine_run ON quarantine (run_id);
