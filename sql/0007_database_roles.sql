-- 0007 database roles: the login roles of the API, the ingest job and the schema's owner, and an audit
-- log that stays append-only even in a session that replays changes (session_replication_role = replica).
-- Expand step: nothing older code reads or writes changes. Idempotent.
--
-- The roles are cluster-wide, so this file alone does not make a database whole (a restore into a new
-- cluster has the schema but not the roles): `fitpipe migrate` creates any missing role before the
-- migrations, and after them hands the schema to fitpipe_owner and sets every role's attributes,
-- password and grants to fitpipe/dbroles/catalog.py, on every run.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['fitpipe_owner', 'fitpipe_api', 'fitpipe_ingest'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', r);
        END IF;
    END LOOP;
END
$$;

-- Triggers do not fire in a session with session_replication_role = replica, which a superuser or the
-- table's owner may set; ENABLE ALWAYS makes the append-only triggers fire there too. Only the owner
-- (fitpipe_owner) or a superuser can still change audit rows, and only by altering the table first.
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
