"""Global Export Data sleep-DATE.json: sleep logs (local wall-clock times) → SleepSession with stages,
plus the daily samples sleep_minutes (minutes asleep of the day's main sleeps) and sleep_efficiency
(of the day's longest main sleep), stored at the local midnight of dateOfSleep.

Monthly files overlap: one log can appear in two of them. The logs are therefore read for the whole
export once (cached per input tree and time zone) and each log is emitted by the first file holding
it in load order; a day's sleep samples come from the file that owns the day's first main sleep.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe.errors import InputError
from fitpipe.localtime import datetime_to_us, day_starts_utc, local_to_utc_us, us_to_datetime
from fitpipe_ingest.records import ParseContext, ParsedFile, Rejected, SleepSession, SleepStage
from fitpipe_ingest.sources.takeout.families import family_of, load_order_key
from fitpipe_ingest.sources.toolkit.collector import Collector
from fitpipe_ingest.sources.toolkit.json_arrays import BadRecord, load_json_array, raw_json, read_json_bytes
from fitpipe_ingest.sources.toolkit.stamps import StampText, parse_stamps
from fitpipe_ingest.tree import InputTree

__all__ = ["SleepExport", "sleep_export", "parse_sleep_json"]

_LAYOUTS = ("YYYY-MM-DDThh:mm:ss.fff", "YYYY-MM-DDThh:mm:ss", "YYYY-MM-DDThh:mm")
_KIND = "sleep logs (Global Export JSON, local time)"


@dataclass
class _FileLogs:
    sessions: list[SleepSession] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    records: int = 0


@dataclass
class SleepExport:
    """The sleep logs of every sleep-*.json file of one export, deduplicated by logId."""

    files: dict[str, _FileLogs | InputError] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    """logId → the first file (in load order) that holds it."""
    day_owner: dict[date, str] = field(default_factory=dict)
    main_by_day: dict[date, list[SleepSession]] = field(default_factory=lambda: defaultdict(list))
    start_instants: set[int] = field(default_factory=set)
    """UTC µs of every session's start: other files' copies of these sessions are not emitted again."""


def _int_or_none(rec: dict[str, object], key: str) -> int | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord(key, f"{key} is {str(value)[:40]!r}, not a number", "not_a_number")
    return int(value)


@dataclass
class _Log:
    """One sleep log while it is read: its stage entries keep their place in the JSON (where, j)."""

    k: int
    path: str
    rejected: list[Rejected]
    entries: list[tuple[str, int, object, str, str, int]] = field(default_factory=list)
    """(where, j, raw entry, dateTime, level, seconds) of every well-formed stage entry."""

    def reject(self, where: str, bad: BadRecord, raw: object) -> None:
        self.rejected.append(
            Rejected(
                self.path, f"record {self.k}", bad.field or where, bad.reason, raw_json(raw), kind=bad.kind
            )
        )

    def collect(self, entries: object, where: str) -> None:
        if entries is None:
            return
        if not isinstance(entries, list):
            raise BadRecord(where, f"{where} is not a list", "malformed")
        for j, entry in enumerate(entries):
            try:
                if not isinstance(entry, dict) or not isinstance(entry.get("dateTime"), str):
                    raise BadRecord(f"{where}[{j}].dateTime", "stage has no dateTime", "missing_field")
                level, seconds = entry.get("level"), entry.get("seconds")
                if not isinstance(level, str) or not level:
                    raise BadRecord(f"{where}[{j}].level", "stage has no level", "missing_field")
                if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                    raise BadRecord(
                        f"{where}[{j}].seconds", f"stage seconds {seconds!r} is not a duration", "malformed"
                    )
            except BadRecord as bad:
                self.reject(where, bad, entry)
                continue
            self.entries.append((where, j, entry, entry["dateTime"], level, int(seconds)))


def _stages(log: _Log, local: np.ndarray, bad: np.ndarray, where: str, tz: ZoneInfo) -> list[SleepStage]:
    """Stages of one list, each wall-clock time converted in order (so a repeated DST hour resolves)."""
    rows = [i for i, e in enumerate(log.entries) if e[0] == where]
    for i in rows:
        if bad[i]:
            e = log.entries[i]
            log.reject(
                where,
                BadRecord(
                    f"{where}[{e[1]}].dateTime",
                    f"dateTime {e[3][:40]!r} is not a YYYY-MM-DDTHH:MM:SS[.fff] time",
                    "bad_timestamp",
                ),
                e[2],
            )
    rows = [i for i in rows if not bad[i]]
    utc, gap = local_to_utc_us(local[rows], tz)
    stages = []
    for i, us, missing in zip(rows, utc, gap, strict=True):
        where_, j, raw, _, level, seconds = log.entries[i]
        if missing:
            log.reject(
                where,
                BadRecord(
                    f"{where_}[{j}].dateTime",
                    f"local time does not exist in {tz.key} (clocks went forward)",
                    "nonexistent_local_time",
                ),
                raw,
            )
            continue
        stages.append(
            SleepStage(
                start=us_to_datetime(int(us)),
                seconds=seconds,
                level=level,
                is_short=where == "levels.shortData",
            )
        )
    return stages


def _session(rec: object, k: int, path: str, ctx: ParseContext, rejected: list[Rejected]) -> SleepSession:
    if not isinstance(rec, dict):
        raise BadRecord("", f"record is a JSON {type(rec).__name__}, not an object", "malformed")
    log_id = rec.get("logId")
    if isinstance(log_id, bool) or not isinstance(log_id, int | str) or str(log_id) == "":
        raise BadRecord("logId", "logId is missing", "missing_field")
    for key in ("dateOfSleep", "startTime", "endTime"):
        if not isinstance(rec.get(key), str):
            raise BadRecord(key, f"{key} is missing", "missing_field")
    try:
        local_date = date.fromisoformat(rec["dateOfSleep"])
    except ValueError:
        raise BadRecord(
            "dateOfSleep",
            f"dateOfSleep {rec['dateOfSleep'][:40]!r} is not a YYYY-MM-DD date",
            "bad_timestamp",
        ) from None
    main = rec.get("mainSleep", rec.get("isMainSleep"))
    if not isinstance(main, bool):
        raise BadRecord("mainSleep", "mainSleep is missing or not true/false", "missing_field")
    levels = rec.get("levels") or {}
    if not isinstance(levels, dict):
        raise BadRecord("levels", "levels is not an object", "malformed")
    log = _Log(k, path, [])
    log.collect(levels.get("data"), "levels.data")
    log.collect(levels.get("shortData"), "levels.shortData")
    texts = [rec["startTime"], rec["endTime"], *(e[3] for e in log.entries)]
    local, bad = parse_stamps(StampText.from_strings(texts), _LAYOUTS)
    for i, key in enumerate(("startTime", "endTime")):
        if bad[i]:
            raise BadRecord(
                key, f"{key} {rec[key][:40]!r} is not a YYYY-MM-DDTHH:MM:SS[.fff] time", "bad_timestamp"
            )
    utc, gap = local_to_utc_us(local[:2], ctx.timezone)
    for i, key in enumerate(("startTime", "endTime")):
        if gap[i]:
            raise BadRecord(
                key,
                f"{key} {rec[key]} does not exist in {ctx.timezone.key} (clocks went forward)",
                "nonexistent_local_time",
            )
    if utc[1] < utc[0]:
        raise BadRecord(
            "endTime", f"endTime {rec['endTime']} is before startTime {rec['startTime']}", "malformed"
        )
    stage_local, stage_bad = local[2:], bad[2:]
    stages = _stages(log, stage_local, stage_bad, "levels.data", ctx.timezone)
    stages += _stages(log, stage_local, stage_bad, "levels.shortData", ctx.timezone)
    rejected.extend(log.rejected)
    sleep_type = rec.get("type")
    return SleepSession(
        start=us_to_datetime(int(utc[0])),
        end=us_to_datetime(int(utc[1])),
        local_date=local_date,
        is_main_sleep=main,
        file=path,
        record=f"record {k}",
        minutes_asleep=_int_or_none(rec, "minutesAsleep"),
        minutes_awake=_int_or_none(rec, "minutesAwake"),
        efficiency=_int_or_none(rec, "efficiency"),
        sleep_type=sleep_type if isinstance(sleep_type, str) else None,
        log_id=str(log_id),
        stages=stages,
    )


def _read_file(tree: InputTree, path: str, ctx: ParseContext) -> _FileLogs:
    records = load_json_array(read_json_bytes(tree, path), path)
    logs = _FileLogs(records=len(records))
    for k, rec in enumerate(records):
        try:
            logs.sessions.append(_session(rec, k, path, ctx, logs.rejected))
        except BadRecord as bad:
            logs.rejected.append(
                Rejected(path, f"record {k}", bad.field, bad.reason, raw_json(rec), kind=bad.kind)
            )
    return logs


_CACHE: weakref.WeakKeyDictionary[InputTree, dict[str, SleepExport]] = weakref.WeakKeyDictionary()


def sleep_export(tree: InputTree, ctx: ParseContext) -> SleepExport:
    by_zone = _CACHE.setdefault(tree, {})
    if ctx.timezone.key in by_zone:
        return by_zone[ctx.timezone.key]
    export = SleepExport()
    paths = sorted(
        (p for p in tree.paths() if (f := family_of(p)) and f.name == "sleep_json"), key=load_order_key
    )
    for path in paths:
        try:
            logs = _read_file(tree, path, ctx)
        except InputError as exc:  # raised again when this file itself is parsed; the others go on
            export.files[path] = exc
            continue
        export.files[path] = logs
        for s in logs.sessions:
            assert s.log_id is not None
            if s.log_id in export.owner:  # an earlier file, or an earlier record of this one, has it
                continue
            export.owner[s.log_id] = path
            export.start_instants.add(datetime_to_us(s.start))
            if s.is_main_sleep:
                export.day_owner.setdefault(s.local_date, path)
                export.main_by_day[s.local_date].append(s)
    by_zone[ctx.timezone.key] = export
    return export


def parse_sleep_json(tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
    export = sleep_export(tree, ctx)
    logs = export.files.get(path)
    if logs is None:  # not among the tree's sleep files when the cache was built
        logs = _read_file(tree, path, ctx)
    if isinstance(logs, InputError):
        raise logs
    c = Collector(path, _KIND, ctx)
    c.read(logs.records)
    c.rejected.extend(logs.rejected)
    emitted: set[str] = set()
    for s in logs.sessions:
        assert s.log_id is not None
        if export.owner.get(s.log_id, path) == path and s.log_id not in emitted:
            emitted.add(s.log_id)
            c.add_sleep(s)
    minutes, minute_days, efficiency, eff_days = [], [], [], []
    for d in sorted(d for d, owner in export.day_owner.items() if owner == path):
        mains = export.main_by_day[d]
        known = [s.minutes_asleep for s in mains if s.minutes_asleep is not None]
        if known:
            minutes.append(float(sum(known)))
            minute_days.append(d)
        longest = max(mains, key=lambda s: (s.minutes_asleep or 0, s.start))
        if longest.efficiency is not None:
            efficiency.append(float(longest.efficiency))
            eff_days.append(d)
    epoch = date(1970, 1, 1)
    day_numbers = np.array([(d - epoch).days for d in minute_days], dtype=np.int64)
    c.add("sleep_minutes", day_starts_utc(day_numbers, ctx.timezone), np.array(minutes, dtype=np.float64))
    eff_numbers = np.array([(d - epoch).days for d in eff_days], dtype=np.int64)
    c.add(
        "sleep_efficiency", day_starts_utc(eff_numbers, ctx.timezone), np.array(efficiency, dtype=np.float64)
    )
    return c.result()
