-- 0009 ingest: the manifest's cheap identity of a file (an unchanged file is skipped unread), and cursors that
-- implausible samples stored before fitpipe checked times (years 2200, 9999) no longer lead.
-- Expand step: a nullable column older code neither reads nor writes, and cursors repaired in place. Idempotent.

ALTER TABLE ingest_files ADD COLUMN IF NOT EXISTS stamp text;
COMMENT ON COLUMN ingest_files.stamp IS 'Size and modification time of the file (size and CRC-32 for an archive member) when loaded; the same stamp again means the same file, skipped without reading it. NULL: compare the SHA-256.';

-- A cursor beyond now + 1 day came from a sample outside the plausible time window; it made a participant
-- look as if they synced in the future. It becomes the newest plausible sample (the loader keeps it so).
UPDATE ingest_cursors AS c
SET last_value = coalesce(
        (SELECT max(s.ts) FROM samples s
         WHERE s.participant_id = c.participant_id AND s.metric_id = c.metric_id
           AND s.ts <= now() + interval '1 day'),
        LEAST(c.initial_value, now())),
    updated_at = now()
WHERE c.last_value > now() + interval '1 day';
