"""minuteSleep_merged.csv: one row per minute of a sleep log (value 1 asleep, 2 restless, 3 awake).

Rows are grouped by (Id, logId) into one SleepSession each: start = first minute, end = last minute +
60 s, stages = runs of equal level over consecutive minutes (a missing minute starts a new stage),
local_date = the local date of the last minute (Fitbit's dateOfSleep), is_main_sleep = the longest log
of that participant and local date, minutes_asleep = minutes with value 1, minutes_awake = 2 or 3.
Rows repeated with the same minute in a log count once. sleep_minutes of a date is the sum of
minutes_asleep of all its logs (naps included), like sleepDay's TotalMinutesAsleep, stored at the
start of that local day. The file is read whole: a log's minutes may lie anywhere in it.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow.compute as pc

from fitpipe.localtime import NAT, US_PER_DAY, US_PER_SECOND, us_to_datetime
from fitpipe_ingest.records import ParsedFile, SleepSession, SleepStage
from fitpipe_ingest.sources.fitabase.cells import TIME_FORMATS, TIME_SHAPE, Rows, encode
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.csv_reader import read_csv
from fitpipe_ingest.tree import InputTree

__all__ = ["MINUTE_SLEEP", "read_minute_sleep"]

MINUTE_SLEEP = ("Id", "date", "value", "logId")
_LEVELS = {1: "asleep", 2: "restless", 3: "awake"}
_MINUTE_US = 60 * US_PER_SECOND
_EPOCH_DATE = date(1970, 1, 1)


def read_minute_sleep(tree: InputTree, c: Collector) -> ParsedFile:
    rows = Rows(read_csv(tree.read_bytes(c.path), c.path, MINUTE_SLEEP), c)
    seconds = rows.local_seconds("date", TIME_FORMATS, TIME_SHAPE)
    local = np.where(seconds == NAT, 0, seconds * US_PER_SECOND)
    levels, _ = rows.numbers("value")
    rows.reject(
        ~np.isin(levels, list(_LEVELS)),
        "value",
        lambda i: f"sleep value {rows.cell('value', i)!r} is not 1 (asleep), 2 (restless) or 3 (awake)",
        "out_of_range",
    )
    log_ids = pc.utf8_trim_whitespace(rows.t.columns["logId"])
    rows.reject(
        np.asarray(pc.equal(log_ids, "").to_numpy(zero_copy_only=False), dtype=bool),
        "logId",
        lambda i: "missing logId",
        "missing_field",
    )
    utc = rows.to_utc(seconds, "date")
    log_code, log_names = encode(log_ids)
    days: dict[tuple[str, date], list[int]] = {}
    for who, idx in rows.by_participant():
        mine = []
        for log_index in np.unique(log_code[idx]):
            members = idx[log_code[idx] == log_index]
            mine.append(_session(members, utc, local, levels, c.path, who, str(log_names[log_index])))
            total = days.setdefault((who, mine[-1].local_date), [0, int(rows.lines[members].min())])
            total[0] += mine[-1].minutes_asleep or 0
            total[1] = min(total[1], int(rows.lines[members].min()))
        _mark_main_sleep(mine)
        for s in mine:
            c.add_sleep(s)
    for (who, day), (minutes, line) in days.items():
        c.add_daily(
            "sleep_minutes",
            np.array([(day - _EPOCH_DATE).days]),
            np.array([float(minutes)]),
            line=np.array([line]),
            participant=who,
        )
    return c.take()


def _session(
    members: np.ndarray,
    utc: np.ndarray,
    local: np.ndarray,
    levels: np.ndarray,
    path: str,
    who: str,
    log_id: str,
) -> SleepSession:
    """One log's minutes (row indices, any order) as a session whose stages merge runs of one level."""
    members = members[np.lexsort((members, utc[members]))]
    ts = utc[members]
    last_of_minute = np.append(ts[1:] != ts[:-1], True)  # a minute written twice: the later line wins
    members, ts = members[last_of_minute], ts[last_of_minute]
    level = levels[members].astype(np.int64)
    ends = np.append(np.minimum(ts[:-1] + _MINUTE_US, ts[1:]), ts[-1] + _MINUTE_US)
    new_run = np.ones(ts.size, dtype=bool)
    new_run[1:] = (level[1:] != level[:-1]) | (ts[1:] != ends[:-1])  # a level change or a gap in the minutes
    firsts = np.flatnonzero(new_run)
    lasts = np.append(firsts[1:], ts.size) - 1
    stages = [
        SleepStage(
            start=us_to_datetime(int(ts[a])),
            seconds=int((ends[b] - ts[a]) // US_PER_SECOND),
            level=_LEVELS[int(level[a])],
        )
        for a, b in zip(firsts, lasts, strict=True)
    ]
    asleep = int((level == 1).sum())
    return SleepSession(
        start=us_to_datetime(int(ts[0])),
        end=us_to_datetime(int(ends[-1])),
        local_date=_EPOCH_DATE + timedelta(days=int(local[members].max() // US_PER_DAY)),
        is_main_sleep=False,
        file=path,
        record=f"logId {log_id}",
        minutes_asleep=asleep,
        minutes_awake=int(level.size) - asleep,
        sleep_type="classic",
        log_id=log_id,
        stages=stages,
        participant=who,
    )


def _mark_main_sleep(sessions: list[SleepSession]) -> None:
    """Per local date, the longest log is the main sleep (ties: longer asleep, then the earlier one)."""
    best: dict[date, SleepSession] = {}
    for s in sessions:
        if s.local_date not in best or _length(s) > _length(best[s.local_date]):
            best[s.local_date] = s
    for s in best.values():
        s.is_main_sleep = True


def _length(s: SleepSession) -> tuple[timedelta, int, float]:
    return s.end - s.start, s.minutes_asleep or 0, -s.start.timestamp()
