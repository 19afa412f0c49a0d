"""Writing sleep sessions and their stages: one session per (participant, start), stages replaced when it changed."""

from __future__ import annotations

from datetime import UTC

import psycopg

from fitpipe_ingest.records import SleepSession

__all__ = ["store_sleep"]

_UPSERT = """
INSERT INTO sleep_sessions AS s (participant_id, start_time, end_time, local_date, is_main_sleep, minutes_asleep,
                                 minutes_awake, efficiency, sleep_type, source, log_id)
VALUES (%(p)s, %(start)s, %(end)s, %(local_date)s, %(main)s, %(asleep)s, %(awake)s, %(eff)s, %(type)s,
        %(source)s, %(log_id)s)
ON CONFLICT (participant_id, start_time) DO UPDATE SET
    end_time = EXCLUDED.end_time, local_date = EXCLUDED.local_date, is_main_sleep = EXCLUDED.is_main_sleep,
    minutes_asleep = coalesce(EXCLUDED.minutes_asleep, s.minutes_asleep),
    minutes_awake = coalesce(EXCLUDED.minutes_awake, s.minutes_awake),
    efficiency = coalesce(EXCLUDED.efficiency, s.efficiency),
    sleep_type = coalesce(EXCLUDED.sleep_type, s.sleep_type),
    log_id = coalesce(EXCLUDED.log_id, s.log_id)
WHERE (s.end_time, s.local_date, s.is_main_sleep) IS DISTINCT FROM
      (EXCLUDED.end_time, EXCLUDED.local_date, EXCLUDED.is_main_sleep)
   OR (EXCLUDED.minutes_asleep IS NOT NULL AND EXCLUDED.minutes_asleep IS DISTINCT FROM s.minutes_asleep)
   OR (EXCLUDED.efficiency IS NOT NULL AND EXCLUDED.efficiency IS DISTINCT FROM s.efficiency)
   OR (EXCLUDED.sleep_type IS NOT NULL AND EXCLUDED.sleep_type IS DISTINCT FROM s.sleep_type)
   OR NOT EXISTS (SELECT 1 FROM sleep_stages st WHERE st.session_id = s.id)
RETURNING id, (xmax = 0) AS inserted
"""


def store_sleep(
    cur: psycopg.Cursor, sessions: list[tuple[int, SleepSession]], source: str
) -> tuple[int, int]:
    """Upsert sessions; returns (new, already_present). Stages are rewritten only for new or changed sessions."""
    new = present = 0
    for pid, s in sessions:
        row = cur.execute(
            _UPSERT,
            {
                "p": pid,
                "start": s.start.astimezone(UTC),
                "end": s.end.astimezone(UTC),
                "local_date": s.local_date,
                "main": s.is_main_sleep,
                "asleep": s.minutes_asleep,
                "awake": s.minutes_awake,
                "eff": s.efficiency,
                "type": s.sleep_type,
                "source": source,
                "log_id": s.log_id,
            },
        ).fetchone()
        if row is None:
            present += 1
            continue
        session_id, inserted = row
        new += 1 if inserted else 0
        present += 0 if inserted else 1
        if s.stages:
            cur.execute("DELETE FROM sleep_stages WHERE session_id = %s", (session_id,))
            unique = {(st.start.astimezone(UTC), st.is_short): st for st in s.stages}
            cur.executemany(
                "INSERT INTO sleep_stages (session_id, start_time, seconds, level, is_short) VALUES (%s, %s, %s, %s, %s)",
                [
                    (session_id, start, st.seconds, st.level, short)
                    for (start, short), st in sorted(unique.items())
                    if st.seconds > 0
                ],
            )
    return new, present
