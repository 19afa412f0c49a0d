-- 0010 run outcomes: what an ingest run counted, as typed columns and rows instead of JSON that the metrics
-- collector re-parsed at every scrape: files per status and sleep on ingest_runs; samples per metric and
-- source, quarantined records per reason and failed token refreshes per study in tables of their own.
--
-- Expand step: defaulted columns, new tables, runs recorded before it copied from their JSON. While pods of
-- the previous release run beside this one, its ingest job records runs as JSON only: two triggers copy
-- that JSON into the typed columns and rows, so those runs count too. This release's recorder writes the
-- typed counts itself and says so (SET LOCAL fitpipe.run_counts = 'typed'), which the triggers leave alone;
-- it still writes the JSON for the previous release's API. A later contract step drops the triggers and
-- the counts in `details`. Idempotent.

ALTER TABLE ingest_runs
    ADD COLUMN IF NOT EXISTS files_unchanged integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS files_unknown integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS files_skipped integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS files_failed integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS sleep_new bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS sleep_present bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN ingest_runs.files IS 'Input files loaded.';
COMMENT ON COLUMN ingest_runs.files_unchanged IS 'Files skipped unread: the same content was loaded before.';
COMMENT ON COLUMN ingest_runs.files_unknown IS 'Files no source reads.';
COMMENT ON COLUMN ingest_runs.files_skipped IS 'Files not read on purpose (a symbolic link, an unsafe archive path, over a size limit).';
COMMENT ON COLUMN ingest_runs.files_failed IS 'Files of which nothing was stored (counted in errors too).';
COMMENT ON COLUMN ingest_runs.sleep_new IS 'Sleep sessions inserted or changed.';
COMMENT ON COLUMN ingest_runs.sleep_present IS 'Sleep sessions already stored unchanged.';
COMMENT ON COLUMN ingest_runs.details IS 'Run-wide details for people (failed, unknown and skipped file names; live sources'' counts). The counts in it are also in typed columns and ingest_run_* tables (0010), which is what code reads.';

CREATE TABLE IF NOT EXISTS ingest_run_metrics (
    run_id            bigint NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    metric            text NOT NULL,
    source            text NOT NULL,
    rows_read         bigint NOT NULL DEFAULT 0,
    rows_new          bigint NOT NULL DEFAULT 0,
    rows_updated      bigint NOT NULL DEFAULT 0,
    rows_present      bigint NOT NULL DEFAULT 0,
    rows_duplicate    bigint NOT NULL DEFAULT 0,
    rows_quarantined  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, metric, source)
);
COMMENT ON TABLE ingest_run_metrics IS 'Samples a run read and wrote, per metric and source (fitpipe_ingest_rows_total sums rows_new + rows_updated).';
COMMENT ON COLUMN ingest_run_metrics.run_id IS 'ingest_runs.id.';
COMMENT ON COLUMN ingest_run_metrics.metric IS 'Metric name (a catalog name; older runs may name others).';
COMMENT ON COLUMN ingest_run_metrics.source IS 'Source format or API; unknown when an older run did not say.';
COMMENT ON COLUMN ingest_run_metrics.rows_read IS 'Samples read from the inputs.';
COMMENT ON COLUMN ingest_run_metrics.rows_new IS 'Samples inserted.';
COMMENT ON COLUMN ingest_run_metrics.rows_updated IS 'Samples whose value changed.';
COMMENT ON COLUMN ingest_run_metrics.rows_present IS 'Samples already stored with the same value (or before the cursor window).';
COMMENT ON COLUMN ingest_run_metrics.rows_duplicate IS 'Repeated timestamps within the input (the last value read is kept).';
COMMENT ON COLUMN ingest_run_metrics.rows_quarantined IS 'Records of this metric sent to quarantine.';

CREATE TABLE IF NOT EXISTS ingest_run_quarantine (
    run_id   bigint NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    reason   text NOT NULL,
    records  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, reason)
);
COMMENT ON TABLE ingest_run_quarantine IS 'Records a run quarantined, per low-cardinality reason (fitpipe_ingest_quarantined_total).';
COMMENT ON COLUMN ingest_run_quarantine.run_id IS 'ingest_runs.id.';
COMMENT ON COLUMN ingest_run_quarantine.reason IS 'Class of the reason, e.g. out_of_range, bad_timestamp.';
COMMENT ON COLUMN ingest_run_quarantine.records IS 'Records quarantined for it.';

CREATE TABLE IF NOT EXISTS ingest_run_token_failures (
    run_id    bigint NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    study     text NOT NULL,
    failures  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, study)
);
COMMENT ON TABLE ingest_run_token_failures IS 'Failed access-token refreshes of a run, per study (fitpipe_token_refresh_failures_total).';
COMMENT ON COLUMN ingest_run_token_failures.run_id IS 'ingest_runs.id.';
COMMENT ON COLUMN ingest_run_token_failures.study IS 'Study name.';
COMMENT ON COLUMN ingest_run_token_failures.failures IS 'Refreshes that failed.';

-- The JSON as older releases wrote it: anything missing or not a number counts as 0 (as the collector read it).
CREATE OR REPLACE FUNCTION fitpipe_run_columns_from_details() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    files jsonb := CASE WHEN jsonb_typeof(NEW.details -> 'files') = 'object' THEN NEW.details -> 'files' ELSE '{}' END;
    sleep jsonb := CASE WHEN jsonb_typeof(NEW.details -> 'sleep') = 'object' THEN NEW.details -> 'sleep' ELSE '{}' END;
BEGIN
    NEW.files_unchanged := CASE WHEN jsonb_typeof(files -> 'unchanged') = 'number' AND abs((files ->> 'unchanged')::numeric) < 2e9 THEN round((files ->> 'unchanged')::numeric) ELSE 0 END;
    NEW.files_unknown := CASE WHEN jsonb_typeof(files -> 'unknown') = 'number' AND abs((files ->> 'unknown')::numeric) < 2e9 THEN round((files ->> 'unknown')::numeric) ELSE 0 END;
    NEW.files_skipped := CASE WHEN jsonb_typeof(files -> 'skipped') = 'number' AND abs((files ->> 'skipped')::numeric) < 2e9 THEN round((files ->> 'skipped')::numeric) ELSE 0 END;
    NEW.files_failed := CASE WHEN jsonb_typeof(files -> 'failed') = 'number' AND abs((files ->> 'failed')::numeric) < 2e9 THEN round((files ->> 'failed')::numeric) ELSE 0 END;
    NEW.sleep_new := CASE WHEN jsonb_typeof(sleep -> 'new') = 'number' AND abs((sleep ->> 'new')::numeric) < 9e18 THEN round((sleep ->> 'new')::numeric) ELSE 0 END;
    NEW.sleep_present := CASE WHEN jsonb_typeof(sleep -> 'present') = 'number' AND abs((sleep ->> 'present')::numeric) < 9e18 THEN round((sleep ->> 'present')::numeric) ELSE 0 END;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION fitpipe_run_columns_from_details() IS
    'Until the contract step after 0010: the typed file and sleep counts of a run an older ingest job recorded as JSON only.';

CREATE OR REPLACE FUNCTION fitpipe_run_rows_from_details() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ingest_run_metrics AS m (run_id, metric, source, rows_read, rows_new, rows_updated, rows_present,
                                         rows_duplicate, rows_quarantined)
    SELECT NEW.id, coalesce(e.value ->> 'metric', e.key), coalesce(e.value ->> 'source', 'unknown'),
           sum(CASE WHEN jsonb_typeof(e.value -> 'read') = 'number' AND abs((e.value ->> 'read')::numeric) < 1e17 THEN round((e.value ->> 'read')::numeric) ELSE 0 END),
           sum(CASE WHEN jsonb_typeof(e.value -> 'new') = 'number' AND abs((e.value ->> 'new')::numeric) < 1e17 THEN round((e.value ->> 'new')::numeric) ELSE 0 END),
           sum(CASE WHEN jsonb_typeof(e.value -> 'updated') = 'number' AND abs((e.value ->> 'updated')::numeric) < 1e17 THEN round((e.value ->> 'updated')::numeric) ELSE 0 END),
           sum(CASE WHEN jsonb_typeof(e.value -> 'present') = 'number' AND abs((e.value ->> 'present')::numeric) < 1e17 THEN round((e.value ->> 'present')::numeric) ELSE 0 END),
           sum(CASE WHEN jsonb_typeof(e.value -> 'duplicates') = 'number' AND abs((e.value ->> 'duplicates')::numeric) < 1e17 THEN round((e.value ->> 'duplicates')::numeric) ELSE 0 END),
           sum(CASE WHEN jsonb_typeof(e.value -> 'quarantined') = 'number' AND abs((e.value ->> 'quarantined')::numeric) < 1e17 THEN round((e.value ->> 'quarantined')::numeric) ELSE 0 END)
    FROM jsonb_each(CASE WHEN jsonb_typeof(NEW.details -> 'metrics') = 'object' THEN NEW.details -> 'metrics' ELSE '{}' END) AS e
    WHERE jsonb_typeof(e.value) = 'object'
    GROUP BY 1, 2, 3
    ON CONFLICT (run_id, metric, source) DO UPDATE
    SET rows_read = EXCLUDED.rows_read, rows_new = EXCLUDED.rows_new, rows_updated = EXCLUDED.rows_updated,
        rows_present = EXCLUDED.rows_present, rows_duplicate = EXCLUDED.rows_duplicate,
        rows_quarantined = EXCLUDED.rows_quarantined;

    INSERT INTO ingest_run_quarantine (run_id, reason, records)
    SELECT NEW.id, e.key,
           CASE WHEN jsonb_typeof(e.value) = 'number' AND abs(e.value::text::numeric) < 1e17 THEN round(e.value::text::numeric) ELSE 0 END
    FROM jsonb_each(CASE WHEN jsonb_typeof(NEW.details -> 'quarantine_reasons') = 'object' THEN NEW.details -> 'quarantine_reasons' ELSE '{}' END) AS e
    ON CONFLICT (run_id, reason) DO UPDATE SET records = EXCLUDED.records;

    INSERT INTO ingest_run_token_failures (run_id, study, failures)
    SELECT NEW.id, e.key,
           CASE WHEN jsonb_typeof(e.value) = 'number' AND abs(e.value::text::numeric) < 1e17 THEN round(e.value::text::numeric) ELSE 0 END
    FROM jsonb_each(CASE WHEN jsonb_typeof(NEW.details -> 'token_refresh_failures') = 'object' THEN NEW.details -> 'token_refresh_failures' ELSE '{}' END) AS e
    ON CONFLICT (run_id, study) DO UPDATE SET failures = EXCLUDED.failures;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION fitpipe_run_rows_from_details() IS
    'Until the contract step after 0010: the typed per-metric, per-reason and per-study rows of a run an older ingest job recorded as JSON only.';

-- Runs recorded before this migration: the BEFORE trigger's work as one UPDATE, the AFTER trigger's by firing
-- it once per run (details rewritten unchanged), then the triggers stay for older ingest jobs.
DROP TRIGGER IF EXISTS ingest_runs_columns_from_details ON ingest_runs;
DROP TRIGGER IF EXISTS ingest_runs_rows_from_details ON ingest_runs;
CREATE TRIGGER ingest_runs_columns_from_details
    BEFORE INSERT OR UPDATE OF details ON ingest_runs FOR EACH ROW
    WHEN (current_setting('fitpipe.run_counts', true) IS DISTINCT FROM 'typed')
    EXECUTE FUNCTION fitpipe_run_columns_from_details();
CREATE TRIGGER ingest_runs_rows_from_details
    AFTER INSERT OR UPDATE OF details ON ingest_runs FOR EACH ROW
    WHEN (current_setting('fitpipe.run_counts', true) IS DISTINCT FROM 'typed')
    EXECUTE FUNCTION fitpipe_run_rows_from_details();
UPDATE ingest_runs SET details = details WHERE details <> '{}'::jsonb;
