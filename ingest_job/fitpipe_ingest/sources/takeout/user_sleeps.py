"""Google-format sleep: 'Health Fitness Data_GoogleData/UserSleeps_DATE.csv' (sessions) and
'UserSleepStages_DATE.csv' (their stages, joined by sleep_id).

Trap: sleep_start/sleep_end (and the stage times) are written '2025-07-17 00:10:00+0000' and the
README calls them UTC, but they are local wall-clock times: they equal sleep-*.json's local
startTime to the second, and sleep_created (real UTC) comes a few minutes after the *local* end
read in the participant's zone while it would precede the "UTC" start. They are read as wall clock
in the participant's zone, so a session also present in sleep-*.json gets the same start instant;
such sessions are left to sleep-*.json (it has efficiency and isMainSleep) and not emitted here.
This file has no main-sleep flag: the longest session ending on a local day is taken as the main one.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from fitpipe.errors import InputError
from fitpipe.localtime import US_PER_DAY, us_to_datetime
from fitpipe_ingest.records import ParseContext, ParsedFile, SleepSession, SleepStage
from fitpipe_ingest.sources.takeout.csv_series import place_rows
from fitpipe_ingest.sources.takeout.csv_specs import FALSE_Z
from fitpipe_ingest.sources.takeout.families import family_of, load_order_key
from fitpipe_ingest.sources.takeout.sleep_logs import sleep_export
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.tree import InputTree

__all__ = ["parse_user_sleeps", "parse_user_sleep_stages"]

_LAYOUTS = ("YYYY-MM-DD hh:mm:ss+0000", "YYYY-MM-DD hh:mm:ss", *FALSE_Z)
_LEVELS = {"AWAKE": "wake", "LIGHT": "light", "DEEP": "deep", "REM": "rem"}
_STAGE_COLUMNS = ("sleep_id", "sleep_stage_type", "sleep_stage_start", "sleep_stage_end")
_SESSION_COLUMNS = ("sleep_id", "sleep_type", "minutes_asleep", "minutes_awake", "sleep_start", "sleep_end")


def _read_stages(
    tree: InputTree, path: str, ctx: ParseContext
) -> tuple[Collector, dict[str, list[SleepStage]]]:
    c = Collector(path, "sleep stages (Google CSV; joined to the UserSleeps sessions)", ctx)
    t = c.read_csv(tree, _STAGE_COLUMNS)
    start, use = place_rows(t, c, "sleep_stage_start", _LAYOUTS, "wall", ctx)
    end, use_end = place_rows(t, c, "sleep_stage_end", _LAYOUTS, "wall", ctx)
    use &= use_end
    backwards = use & (end < start)
    c.reject_cells(
        t, np.flatnonzero(backwards), "sleep_stage_end", "stage ends before it starts ({cell})", "malformed"
    )
    use &= ~backwards
    stages: dict[str, list[SleepStage]] = defaultdict(list)
    ids, types = t.text("sleep_id"), t.text("sleep_stage_type")
    for r in np.flatnonzero(use):
        level = _LEVELS.get(types[r].strip().upper(), types[r].strip().lower())
        seconds = int((end[r] - start[r]) // 1_000_000)
        stages[ids[r]].append(SleepStage(start=us_to_datetime(int(start[r])), seconds=seconds, level=level))
    return c, stages


_CACHE: weakref.WeakKeyDictionary[InputTree, dict[str, dict[str, list[SleepStage]]]] = (
    weakref.WeakKeyDictionary()
)


def _all_stages(tree: InputTree, ctx: ParseContext) -> dict[str, list[SleepStage]]:
    by_zone = _CACHE.setdefault(tree, {})
    if ctx.timezone.key not in by_zone:
        merged: dict[str, list[SleepStage]] = defaultdict(list)
        paths = [p for p in tree.paths() if (f := family_of(p)) and f.name == "user_sleep_stages"]
        for path in sorted(paths, key=load_order_key):
            try:
                _, stages = _read_stages(tree, path, ctx)
            except InputError:  # reported when that file itself is parsed
                continue
            for sleep_id, items in stages.items():
                merged[sleep_id].extend(items)
        by_zone[ctx.timezone.key] = merged
    return by_zone[ctx.timezone.key]


def parse_user_sleep_stages(tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
    """Checks the stage file and reports its bad rows; its stages are emitted with UserSleeps' sessions."""
    c, _ = _read_stages(tree, path, ctx)
    return c.result()


def parse_user_sleeps(tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
    c = Collector(path, "sleep sessions (Google CSV, local time despite '+0000')", ctx)
    t = c.read_csv(tree, _SESSION_COLUMNS)
    start, use = place_rows(t, c, "sleep_start", _LAYOUTS, "wall", ctx)
    end, use_end = place_rows(t, c, "sleep_end", _LAYOUTS, "wall", ctx)
    use &= use_end
    backwards = use & (end < start)
    c.reject_cells(
        t, np.flatnonzero(backwards), "sleep_end", "sleep ends before it starts ({cell})", "malformed"
    )
    use &= ~backwards
    end_wall, _ = t.stamps("sleep_end", _LAYOUTS)
    minutes = {}
    for column in ("minutes_asleep", "minutes_awake"):
        values, bad = t.numbers(column)
        c.reject_cells(t, np.flatnonzero(use & bad), column, "{cell} is not a number", "not_a_number")
        minutes[column] = np.where(bad, np.nan, values)
    rows = np.flatnonzero(use)
    local_day = end_wall // US_PER_DAY
    longest: dict[int, int] = {}
    for r in rows:  # main sleep: the longest session ending on each local day
        best = longest.get(int(local_day[r]))
        if best is None or end[r] - start[r] > end[best] - start[best]:
            longest[int(local_day[r])] = int(r)
    known = sleep_export(tree, ctx).start_instants
    stages = _all_stages(tree, ctx)
    ids, types = t.text("sleep_id"), t.text("sleep_type")
    epoch = date(1970, 1, 1)
    for r in rows:
        if int(start[r]) in known:
            continue
        asleep, awake = minutes["minutes_asleep"][r], minutes["minutes_awake"][r]
        c.add_sleep(
            SleepSession(
                start=us_to_datetime(int(start[r])),
                end=us_to_datetime(int(end[r])),
                local_date=epoch + timedelta(days=int(local_day[r])),
                is_main_sleep=longest[int(local_day[r])] == r,
                file=path,
                record=f"line {int(t.lines[r])}",
                minutes_asleep=None if np.isnan(asleep) else int(asleep),
                minutes_awake=None if np.isnan(awake) else int(awake),
                sleep_type=types[r].strip().lower() or None,
                log_id=ids[r] or None,
                stages=sorted(stages.get(ids[r], []), key=lambda st: st.start),
            )
        )
    return c.result()
