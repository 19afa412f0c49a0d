-- contract: needs code that knows schema 0008
-- 0008 storage: compressed history on the full TimescaleDB edition (capability-checked: nothing changes on the
-- Apache edition or plain PostgreSQL), no duplicated minute data, erasure of a participant, per-study retention,
-- and storage sizes for `fitpipe db status` and /metrics. Idempotent: every statement may run again.
-- A contract step: it deletes the rollup_1m rows of per-minute metrics that older code reads for 1-minute
-- answers (newer code reads those minutes from samples), so code before schema 0008 must not serve on it.
--
-- Functions that need the tables' owner (compressing chunks, deleting a participant's rows everywhere) are
-- SECURITY DEFINER with a fixed search_path, executable only by the roles granted below: the API and the ingest
-- job call them without owning the tables or being able to DELETE from them directly.

-- ---------------------------------------------------------------------------------------------
-- 1. Which edition: compression needs TimescaleDB with its TSL module loaded (license 'timescale').
CREATE OR REPLACE FUNCTION fitpipe_compression_available() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN false;
    END IF;
    -- The Apache build cannot even load the TSL module; a full build may run with license=apache.
    IF coalesce(current_setting('timescaledb.license', true), '') <> 'timescale' THEN
        RETURN false;
    END IF;
    RETURN _timescaledb_functions.tsl_loaded();
EXCEPTION WHEN undefined_function OR invalid_schema_name OR feature_not_supported THEN
    RETURN false;
END
$$;
COMMENT ON FUNCTION fitpipe_compression_available() IS
    'True when native compression can be used: TimescaleDB with its TSL module loaded (the full edition, license timescale).';

-- Compression settings: one compressed batch per participant x metric (segmentby), values in time order
-- (orderby) so delta-of-delta and Gorilla encodings see a smooth series. Only the two tall tables: rollup_1h
-- and rollup_1d are small and the adherence queries read them with index-only scans.
CREATE OR REPLACE FUNCTION fitpipe_enable_compression() RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    t text;
    enabled text[] := '{}';
BEGIN
    IF NOT fitpipe_compression_available() THEN
        RETURN enabled;
    END IF;
    FOREACH t IN ARRAY ARRAY['samples', 'rollup_1m'] LOOP
        IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                       WHERE hypertable_schema = 'public' AND hypertable_name = t) THEN
            CONTINUE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                       WHERE hypertable_schema = 'public' AND hypertable_name = t AND compression_enabled) THEN
            EXECUTE format(
                'ALTER TABLE public.%I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, '
                'timescaledb.compress_orderby = %L)',
                t, 'participant_id, metric_id', CASE t WHEN 'samples' THEN 'ts' ELSE 'bucket' END);
        END IF;
        enabled := enabled || t;
    END LOOP;
    RETURN enabled;
END
$$;
COMMENT ON FUNCTION fitpipe_enable_compression() IS
    'Turns on compression settings for samples and rollup_1m when the full edition is present (no-op otherwise); returns the tables that have them.';
SELECT fitpipe_enable_compression();

-- Chunks that fitpipe's compression step should compress: those of samples / rollup_1m whose whole range
-- ends before `older_than`, not compressed yet or partially compressed (late rows written since).
CREATE OR REPLACE FUNCTION fitpipe_compression_candidates(older_than timestamptz)
RETURNS TABLE (hypertable text, chunk regclass, range_start timestamptz, range_end timestamptz, state text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF NOT fitpipe_compression_available() THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT c.hypertable_name::text, format('%I.%I', c.chunk_schema, c.chunk_name)::regclass,
           c.range_start, c.range_end,
           CASE WHEN NOT c.is_compressed THEN 'uncompressed' ELSE 'partial' END
    FROM timescaledb_information.chunks c
    WHERE c.hypertable_schema = 'public' AND c.hypertable_name IN ('samples', 'rollup_1m')
      AND c.range_end <= older_than
      -- status bit 1: compressed; bit 8: rows written into it since (partially compressed)
      AND (NOT c.is_compressed
           OR (_timescaledb_functions.chunk_status(format('%I.%I', c.chunk_schema, c.chunk_name)::regclass) & 8) <> 0)
    ORDER BY c.range_start, c.hypertable_name;
END
$$;
COMMENT ON FUNCTION fitpipe_compression_candidates(timestamptz) IS
    'Chunks of samples and rollup_1m ending before older_than that are uncompressed or partially compressed (empty without the full edition).';

CREATE OR REPLACE FUNCTION fitpipe_compress_chunk(chunk regclass) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    owner_table name;
BEGIN
    IF NOT fitpipe_compression_available() THEN
        RAISE EXCEPTION 'compression needs the full TimescaleDB edition (TSL module), which this server does not have'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    SELECT c.hypertable_name INTO owner_table FROM timescaledb_information.chunks c
    WHERE format('%I.%I', c.chunk_schema, c.chunk_name)::regclass = chunk AND c.hypertable_schema = 'public';
    IF owner_table IS NULL OR owner_table NOT IN ('samples', 'rollup_1m') THEN
        RAISE EXCEPTION '% is not a chunk of samples or rollup_1m', chunk USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A database migrated before the full edition was installed has no compression settings yet.
    PERFORM fitpipe_enable_compression();
    PERFORM compress_chunk(chunk, if_not_compressed => true);
    -- the chunk's compressed data plus what is left in its own (now empty) heap and index
    RETURN (SELECT s.total_bytes FROM chunks_detailed_size(format('public.%I', owner_table)::regclass) s
            WHERE format('%I.%I', s.chunk_schema, s.chunk_name)::regclass = chunk);
END
$$;
COMMENT ON FUNCTION fitpipe_compress_chunk(regclass) IS
    'Compresses (or recompresses, when partially compressed) one chunk of samples or rollup_1m; for the ingest role, which does not own the tables.';

-- ---------------------------------------------------------------------------------------------
-- 2. Storage sizes: bytes on disk per table, split into compressed and uncompressed chunks.
CREATE OR REPLACE FUNCTION fitpipe_storage_sizes()
RETURNS TABLE (table_name text, chunks bigint, compressed_chunks bigint, uncompressed_bytes bigint,
               compressed_bytes bigint, before_compression_bytes bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    t text;
    is_hypertable boolean;
BEGIN
    FOREACH t IN ARRAY ARRAY['samples', 'rollup_1m', 'rollup_1h', 'rollup_1d'] LOOP
        is_hypertable := false;
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
            is_hypertable := EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                                     WHERE hypertable_schema = 'public' AND hypertable_name = t);
        END IF;
        table_name := t;
        IF NOT is_hypertable THEN
            chunks := 0;
            compressed_chunks := 0;
            uncompressed_bytes := pg_total_relation_size(format('public.%I', t)::regclass);
            compressed_bytes := 0;
            before_compression_bytes := 0;
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- chunks_detailed_size counts a compressed chunk's compressed data plus any rows written since.
        SELECT count(*), count(*) FILTER (WHERE c.is_compressed),
               coalesce(sum(s.total_bytes) FILTER (WHERE NOT c.is_compressed), 0),
               coalesce(sum(s.total_bytes) FILTER (WHERE c.is_compressed), 0)
        INTO chunks, compressed_chunks, uncompressed_bytes, compressed_bytes
        FROM chunks_detailed_size(format('public.%I', t)::regclass) s
        JOIN timescaledb_information.chunks c ON c.chunk_schema = s.chunk_schema AND c.chunk_name = s.chunk_name;
        -- the parent table itself holds nothing, but its (empty) heap and index pages are on disk too
        uncompressed_bytes := uncompressed_bytes + pg_total_relation_size(format('public.%I', t)::regclass);
        before_compression_bytes := 0;
        IF compressed_chunks > 0 THEN
            BEGIN
                SELECT coalesce(sum(x.before_compression_total_bytes), 0) INTO before_compression_bytes
                FROM chunk_compression_stats(format('public.%I', t)::regclass) x
                WHERE x.compression_status = 'Compressed';
            EXCEPTION WHEN OTHERS THEN
                before_compression_bytes := 0;
            END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION fitpipe_storage_sizes() IS
    'Bytes on disk of samples and the rollups: chunks, compressed chunks, bytes of uncompressed and of compressed chunks, and what the compressed chunks took before compression.';

-- ---------------------------------------------------------------------------------------------
-- 3. No duplicated minute data: rollup_1m keeps only metrics sampled more often than once a minute
-- (heart rate). For the others a sample already is a minute: data_1m reads them from samples.
ALTER TABLE metrics ADD COLUMN IF NOT EXISTS rollup_1m boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN metrics.rollup_1m IS
    'True when the metric is sampled more often than once a minute and keeps per-minute rows in rollup_1m; otherwise data_1m reads its samples (fitpipe/catalog.py: Metric.rollup_1m).';
-- The same rule as Metric.rollup_1m; `fitpipe migrate` re-copies the catalog right after the migrations.
UPDATE metrics SET rollup_1m = NOT daily AND coalesce(substring(resolution FROM '^([0-9]{1,4})s$')::integer < 60, false);
-- Per-minute copies of per-minute (and coarser) metrics: the view below reads their samples instead. Their
-- rollup_1h / rollup_1d rows stay: they were built from these minutes and equal what the samples give.
DELETE FROM rollup_1m r USING metrics m WHERE m.id = r.metric_id AND NOT m.rollup_1m;

-- The UTC minute of an instant, for reading per-minute metrics from samples. With TimescaleDB it is
-- time_bucket (origin 2000-01-03, the same minutes as date_bin here), and being a one-line SQL function it is
-- inlined: TimescaleDB's planner then turns a filter on the minute into a range of ts (chunk exclusion, one
-- index range) and knows the minutes come in ts order (no sort to group them). Plain PostgreSQL: date_bin.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        CREATE OR REPLACE FUNCTION fitpipe_minute(ts timestamptz) RETURNS timestamptz
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$ SELECT time_bucket('1 minute', ts) $f$;
    ELSE
        CREATE OR REPLACE FUNCTION fitpipe_minute(ts timestamptz) RETURNS timestamptz
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$ SELECT date_bin('1 minute', ts, '2000-01-03T00:00:00+00') $f$;
    END IF;
END
$$;
COMMENT ON FUNCTION fitpipe_minute(timestamptz) IS
    'Start of the UTC minute of ts (time_bucket with TimescaleDB, date_bin without): the minute buckets of data_1m.';

-- The second branch groups per minute inside a LATERAL subquery so that filters on user_id and metric_name
-- select the (participant, metric) pairs first, and (with TimescaleDB) a filter on bucket one range of samples.
CREATE OR REPLACE VIEW data_1m AS
SELECT p.external_id AS user_id, m.name AS metric_name, r.bucket, r.count, r.sum, r.min, r.max,
       r.sum / NULLIF(r.count, 0) AS mean, r.minutes, st.name AS study
FROM rollup_1m r JOIN participants p ON p.id = r.participant_id JOIN studies st ON st.id = p.study_id
JOIN metrics m ON m.id = r.metric_id AND m.rollup_1m  -- rows an older loader still wrote are not read twice
UNION ALL
SELECT p.external_id, m.name, a.bucket, a.count, a.sum, a.min, a.max, a.sum / NULLIF(a.count, 0), a.minutes, st.name
FROM participants p JOIN studies st ON st.id = p.study_id CROSS JOIN metrics m
CROSS JOIN LATERAL (
    SELECT fitpipe_minute(s.ts) AS bucket, count(*)::integer AS count, sum(s.value) AS sum, min(s.value) AS min,
           max(s.value) AS max, 1 AS minutes
    FROM samples s WHERE s.participant_id = p.id AND s.metric_id = m.id
    GROUP BY 1
) a
WHERE NOT m.rollup_1m;
COMMENT ON VIEW data_1m IS 'Per-minute rollup with readable names: (user_id, metric_name, bucket, count, sum, min, max, mean, minutes, study). Sub-minute metrics come from rollup_1m, the others from their samples grouped by minute.';

-- ---------------------------------------------------------------------------------------------
-- 4. Erasure: a participant who withdraws consent. Every row that refers to them is deleted (samples in
-- compressed and uncompressed chunks, rollups, sleep, cursors, manifest, quarantine, sources, Google grants
-- and tokens, sync state, notifications, contacts, and any other table with a participant_id column); the
-- participants row stays as a tombstone (id, study, external id, erased_at) because the append-only audit log
-- refers to it: the audit log keeps who read or changed what and when, never measured values.
ALTER TABLE participants ADD COLUMN IF NOT EXISTS erased_at timestamptz;
COMMENT ON COLUMN participants.erased_at IS
    'When the participant''s data was erased (consent withdrawn or study retention); the row stays as a tombstone for the audit log, with no email, time zone or enrolment dates.';

CREATE OR REPLACE FUNCTION fitpipe_erase_participant(
    pid integer, actor_token integer, actor_user integer, actor_session bigint, actor_request text, detail jsonb
)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    who record;
    counts jsonb := '{}'::jsonb;
    pending text[];
    still text[];
    t text;
    n bigint;
    stages bigint;
    rounds integer := 0;
    compressible text[] := '{}';
BEGIN
    SELECT p.id, p.external_id, s.name AS study INTO who
    FROM participants p JOIN studies s ON s.id = p.study_id WHERE p.id = pid FOR UPDATE OF p;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no participant with id %', pid USING ERRCODE = 'no_data_found';
    END IF;
    -- the loader's per-participant lock: a load in flight finishes first, and a later one sees erased_at
    PERFORM pg_advisory_xact_lock(26224, pid);

    SELECT count(*) INTO stages FROM sleep_stages st JOIN sleep_sessions ss ON ss.id = st.session_id
    WHERE ss.participant_id = pid;
    counts := counts || jsonb_build_object('sleep_stages', stages);  -- deleted by the cascade from sleep_sessions
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        SELECT coalesce(array_agg(hypertable_name::text), '{}') INTO compressible
        FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public' AND compression_enabled;
    END IF;

    -- Every base table of the schema with a participant_id column, except the two that keep the tombstone.
    SELECT array_agg(c.relname::text ORDER BY c.relname) INTO pending
    FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'participant_id' AND NOT a.attisdropped
    WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname NOT IN ('participants', 'audit_log');
    -- Tables may refer to each other (other migrations add some): retry those a foreign key held back.
    WHILE coalesce(array_length(pending, 1), 0) > 0 LOOP
        rounds := rounds + 1;
        still := '{}';
        FOREACH t IN ARRAY pending LOOP
            BEGIN
                IF t = ANY(compressible) THEN
                    -- whole compressed batches are deleted without being decompressed, and not counted
                    EXECUTE format('SELECT count(*) FROM public.%I WHERE participant_id = $1', t) INTO n USING pid;
                    EXECUTE format('DELETE FROM public.%I WHERE participant_id = $1', t) USING pid;
                ELSE
                    EXECUTE format('DELETE FROM public.%I WHERE participant_id = $1', t) USING pid;
                    GET DIAGNOSTICS n = ROW_COUNT;
                END IF;
                counts := counts || jsonb_build_object(t, n);
            EXCEPTION WHEN foreign_key_violation THEN
                still := still || t;
            END;
        END LOOP;
        IF array_length(still, 1) = array_length(pending, 1) AND rounds > 1 THEN
            RAISE EXCEPTION 'cannot erase participant %: foreign keys hold rows in %', pid, array_to_string(still, ', ');
        END IF;
        pending := still;
    END LOOP;

    UPDATE participants SET email = NULL, timezone = 'UTC', enrolment_start = NULL, enrolment_end = NULL,
                            status = 'withdrawn', erased_at = now()
    WHERE id = pid;
    INSERT INTO audit_log (token_id, user_id, session_id, participant_id, action, detail, request_id)
    VALUES (actor_token, actor_user, actor_session, pid, 'erase_participant',
            coalesce(detail, '{}'::jsonb)
            || jsonb_build_object('study', who.study, 'external_id', who.external_id, 'rows', counts),
            actor_request);
    RETURN counts;
END
$$;
COMMENT ON FUNCTION fitpipe_erase_participant(integer, integer, integer, bigint, text, jsonb) IS
    'Deletes every row of one participant (all tables with a participant_id column), leaves a tombstone in participants and one erase_participant row in audit_log under the token or signed-in person who asked; returns rows deleted per table.';

-- ---------------------------------------------------------------------------------------------
-- 5. Retention after a study's end: when ends_on + retention_days has passed, the study's participants are
-- erased. Chunks that hold only such participants are dropped whole (drop_chunks on the chunk's own range:
-- exact, and no dead rows to vacuum); chunks shared with other participants lose their rows by DELETE.
ALTER TABLE studies ADD COLUMN IF NOT EXISTS ends_on date;
ALTER TABLE studies ADD COLUMN IF NOT EXISTS retention_days integer CHECK (retention_days >= 0);
COMMENT ON COLUMN studies.ends_on IS 'Last day of the study (NULL: still running).';
COMMENT ON COLUMN studies.retention_days IS
    'Days after ends_on that the participants'' data is kept; then `fitpipe retention apply` (and the daily run) erase it. NULL: kept until erased by hand.';

CREATE OR REPLACE FUNCTION fitpipe_retention_due(on_day date) RETURNS TABLE (study text, participants bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.name, count(p.id) FILTER (WHERE p.erased_at IS NULL)
    FROM studies s LEFT JOIN participants p ON p.study_id = s.id
    WHERE s.ends_on IS NOT NULL AND s.retention_days IS NOT NULL AND s.ends_on + s.retention_days < on_day
    GROUP BY s.name ORDER BY s.name
$$;
COMMENT ON FUNCTION fitpipe_retention_due(date) IS
    'Studies whose retention period has ended by on_day, with the number of participants not erased yet.';

CREATE OR REPLACE FUNCTION fitpipe_apply_retention(on_day date, actor_token integer, actor_request text, detail jsonb)
RETURNS TABLE (study text, participants integer, chunks_dropped integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    st record;
    ch record;
    due integer[];
    pid integer;
    others boolean;
    t text;
BEGIN
    FOR st IN SELECT s.id, s.name FROM studies s
              WHERE s.ends_on IS NOT NULL AND s.retention_days IS NOT NULL AND s.ends_on + s.retention_days < on_day
              ORDER BY s.name LOOP
        SELECT array_agg(p.id ORDER BY p.id) INTO due FROM participants p
        WHERE p.study_id = st.id AND p.erased_at IS NULL;
        study := st.name;
        participants := coalesce(array_length(due, 1), 0);
        chunks_dropped := 0;
        IF participants = 0 THEN
            RETURN NEXT;
            CONTINUE;
        END IF;
        PERFORM pg_advisory_xact_lock(26224, x) FROM unnest(due) AS x ORDER BY x;
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
            FOREACH t IN ARRAY ARRAY['samples', 'rollup_1m', 'rollup_1h', 'rollup_1d'] LOOP
                FOR ch IN SELECT c.chunk_schema, c.chunk_name, c.range_start, c.range_end
                          FROM timescaledb_information.chunks c
                          WHERE c.hypertable_schema = 'public' AND c.hypertable_name = t LOOP
                    -- Which participants the chunk holds, one index probe each (a loose index scan).
                    EXECUTE format(
                        'WITH RECURSIVE ids(pid) AS ('
                        '  (SELECT participant_id FROM %1$I.%2$I ORDER BY participant_id LIMIT 1)'
                        '  UNION ALL'
                        '  SELECT (SELECT participant_id FROM %1$I.%2$I WHERE participant_id > ids.pid'
                        '          ORDER BY participant_id LIMIT 1) FROM ids WHERE ids.pid IS NOT NULL)'
                        ' SELECT EXISTS (SELECT 1 FROM ids WHERE pid IS NOT NULL AND pid <> ALL($1))',
                        ch.chunk_schema, ch.chunk_name) INTO others USING due;
                    IF NOT others THEN
                        PERFORM drop_chunks(format('public.%I', t)::regclass,
                                            older_than => ch.range_end, newer_than => ch.range_start);
                        chunks_dropped := chunks_dropped + 1;
                    END IF;
                END LOOP;
            END LOOP;
        END IF;
        FOREACH pid IN ARRAY due LOOP
            PERFORM fitpipe_erase_participant(
                pid, actor_token, NULL, NULL, actor_request,
                coalesce(detail, '{}'::jsonb) || jsonb_build_object('reason', 'retention', 'on_day', on_day));
        END LOOP;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION fitpipe_apply_retention(date, integer, text, jsonb) IS
    'Erases the participants of every study whose retention has ended by on_day: drops chunks holding only them, then erases each (audited); returns what it did per study.';

-- ---------------------------------------------------------------------------------------------
-- Who may call what. The migration owner owns (and may call) everything.
REVOKE ALL ON FUNCTION fitpipe_compression_candidates(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION fitpipe_compress_chunk(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION fitpipe_enable_compression() FROM PUBLIC;
REVOKE ALL ON FUNCTION fitpipe_storage_sizes() FROM PUBLIC;
REVOKE ALL ON FUNCTION fitpipe_erase_participant(integer, integer, integer, bigint, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION fitpipe_retention_due(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION fitpipe_apply_retention(date, integer, text, jsonb) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fitpipe_api') THEN
        -- the API: sizes for /metrics, and the admin-only erase call (the API checks the token's role)
        GRANT EXECUTE ON FUNCTION fitpipe_storage_sizes() TO fitpipe_api;
        GRANT EXECUTE ON FUNCTION fitpipe_erase_participant(integer, integer, integer, bigint, text, jsonb) TO fitpipe_api;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fitpipe_ingest') THEN
        -- the ingest job (0007's login): the storage step after each daily run
        GRANT EXECUTE ON FUNCTION fitpipe_compression_candidates(timestamptz) TO fitpipe_ingest;
        GRANT EXECUTE ON FUNCTION fitpipe_compress_chunk(regclass) TO fitpipe_ingest;
        GRANT EXECUTE ON FUNCTION fitpipe_retention_due(date) TO fitpipe_ingest;
        GRANT EXECUTE ON FUNCTION fitpipe_apply_retention(date, integer, text, jsonb) TO fitpipe_ingest;
        GRANT EXECUTE ON FUNCTION fitpipe_storage_sizes() TO fitpipe_ingest;
    END IF;
END
$$;
