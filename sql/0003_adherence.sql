-- 0003 adherence: partial covering indexes that let the adherence queries (api/queries/adherence.py) read
-- wear minutes, valid hours and nights with index-only scans instead of one heap page per row.
-- Idempotent. Heart rate is metrics.id 1 (fitpipe/catalog.py; ids never change meaning).
-- Size: one small entry per participant-hour of heart rate (~30 B; ~300 MB a year for 1,000 participants),
-- per participant-day, and per main sleep.

CREATE INDEX IF NOT EXISTS rollup_1h_heart_rate_wear ON rollup_1h (participant_id, bucket) INCLUDE (minutes)
    WHERE metric_id = 1;
COMMENT ON INDEX rollup_1h_heart_rate_wear IS
    'Wear minutes per participant-hour of heart rate (index-only): valid hours per day for /adherence.';

CREATE INDEX IF NOT EXISTS rollup_1d_heart_rate_wear ON rollup_1d (participant_id, bucket) INCLUDE (minutes)
    WHERE metric_id = 1;
COMMENT ON INDEX rollup_1d_heart_rate_wear IS
    'Wear minutes per participant-day of heart rate (index-only): daily wear and overall adherence.';

CREATE INDEX IF NOT EXISTS sleep_sessions_main_nights ON sleep_sessions (participant_id, local_date)
    WHERE is_main_sleep;
COMMENT ON INDEX sleep_sessions_main_nights IS
    'Nights with a main sleep per participant and local date: sleep_recorded and the low_sleep flag.';
