"""Google Health data points → what the loader takes: sample batches on the metric catalog, sleep sessions,
and rejected points (quarantined with the window's manifest path and the point's position).

Times: samples are stored at `physicalTime` (an RFC 3339 instant; the `utcOffset` beside it only says
what the wearer's clock showed). A point without one is placed from `civilTime` minus `utcOffset`, or in
the participant's zone when the offset is missing too. Daily types carry a civil `date`: stored at the
participant's local midnight, like every daily metric. Sleep's `dateOfSleep` is the local date (by
`endUtcOffset`) on which it ends. proto3 JSON omits zero values: a missing step count is 0 steps; a
missing daily average means "no value" and is skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from fitpipe.google_health.datatypes import BY_NAME, DataType
from fitpipe.localtime import (
    NAT,
    day_starts_utc,
    local_to_utc_us,
    parse_rfc3339,
    rfc3339_to_us,
    us_to_datetime,
)
from fitpipe_ingest.records import ParsedFile, Rejected, SampleBatch, SleepSession, SleepStage

__all__ = ["map_points", "parse_offset", "MAPPING_VERSION"]

MAPPING_VERSION = "1"
"""Part of a window's content hash: a new mapping re-loads windows whose points did not change."""

Point = dict[str, Any]
_EPOCH_DAY = date(1970, 1, 1)
_US = 1_000_000


class _Out:
    def __init__(self, data_type: DataType, path: str, zone: ZoneInfo, points: list[Point]) -> None:
        self.data_type, self.path, self.zone, self.points = data_type, path, zone, points
        self.parsed = ParsedFile(
            file=path, kind=f"Google Health API {data_type.name}", records_read=len(points)
        )

    def reject(self, i: int, field: str, reason: str, kind: str = "") -> None:
        raw = orjson.dumps(self.points[i]).decode()[:1000]
        self.parsed.rejected.append(Rejected(self.path, f"point {i + 1}", field, reason, raw, kind=kind))

    def add(
        self,
        metric: str,
        ts: np.ndarray | list[int],
        value: np.ndarray | list[float],
        index: np.ndarray | list[int],
    ) -> None:
        ts_arr = np.asarray(ts, dtype=np.int64)
        if ts_arr.size:
            self.parsed.batches.append(
                SampleBatch(
                    metric,
                    ts_arr,
                    np.asarray(value, dtype=np.float64),
                    self.path,
                    item=np.asarray(index, dtype=np.int64),
                )
            )


def parse_offset(text: object) -> timedelta | None:
    """A proto3 JSON duration ('-14400s', '19800.5s') as a timedelta; None when absent or unreadable."""
    if not isinstance(text, str) or not text.endswith("s"):
        return None
    try:
        return timedelta(seconds=float(text[:-1]))
    except ValueError:
        return None


def _civil_us(civil: object) -> int | None:
    """A civilTime {date:{year,month,day}, time:{hours,minutes,seconds,nanos}} as naive local µs."""
    if not isinstance(civil, dict) or not isinstance(civil.get("date"), dict):
        return None
    d, t = civil["date"], civil.get("time") or {}
    try:
        naive = datetime(
            int(d["year"]),
            int(d["month"]),
            int(d["day"]),
            int(t.get("hours", 0)),
            int(t.get("minutes", 0)),
            int(t.get("seconds", 0)),
            int(t.get("nanos", 0)) // 1000,
        )
    except (KeyError, TypeError, ValueError):
        return None
    return (naive - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _place(
    out: _Out,
    members: list[dict[str, Any] | None],
    stamp_key: str,
    time_key: str,
    offset_key: str,
    civil_key: str,
) -> tuple[np.ndarray, list[timedelta | None]]:
    """UTC µs per point from its physical time, else civil time and offset, else civil time in the zone.
    Points without a member object (already rejected) stay NAT."""
    stamps: list[dict[str, Any]] = [
        m[stamp_key] if m is not None and isinstance(m.get(stamp_key), dict) else {} for m in members
    ]
    texts = [s.get(time_key) if isinstance(s.get(time_key), str) else None for s in stamps]
    us = rfc3339_to_us(texts)
    offsets = [parse_offset(s.get(offset_key)) for s in stamps]
    for i in np.flatnonzero(us == NAT):
        if members[i] is None:
            continue
        civil = _civil_us(stamps[i].get(civil_key))
        if civil is None:
            what = f"{time_key} {texts[i]!r} is not an RFC 3339 time" if texts[i] else f"no {time_key}"
            out.reject(int(i), time_key, what, "bad_timestamp")
        elif (offset := offsets[i]) is not None:
            us[i] = civil - offset // timedelta(microseconds=1)
        else:
            placed, gap = local_to_utc_us(np.array([civil], dtype=np.int64), out.zone)
            if gap[0]:
                out.reject(
                    int(i),
                    civil_key,
                    f"local time does not exist in {out.zone.key} (clocks went forward)",
                    "nonexistent_local_time",
                )
            else:
                us[i] = placed[0]
    return us, offsets


def _number(member: dict[str, Any], key: str) -> float | None:
    """A proto3 number (int64 as a string): absent means zero; None when it is not a number."""
    value = member.get(key, 0)
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _members(out: _Out) -> list[dict[str, Any] | None]:
    members: list[dict[str, Any] | None] = []
    for i, point in enumerate(out.points):
        member = point.get(out.data_type.member)
        if not isinstance(member, dict):
            out.reject(
                i, out.data_type.member, f"the point has no {out.data_type.member} object", "missing_field"
            )
            member = None
        members.append(member)
    return members


def _local_day(instant_us: int, offset: timedelta | None, zone: ZoneInfo) -> date:
    instant = us_to_datetime(instant_us)
    return (instant + offset).date() if offset is not None else instant.astimezone(zone).date()


def _day_us(days: list[date], zone: ZoneInfo) -> np.ndarray:
    return day_starts_utc(np.array([(d - _EPOCH_DAY).days for d in days], dtype=np.int64), zone)


# ---- samples -------------------------------------------------------------------------------------------


def _timed_values(
    out: _Out,
    time_key: str,
    value_key: str,
    *,
    interval: bool,
    sentinel: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[timedelta | None], list[dict[str, Any] | None]]:
    """(ts, value, index, offsets, members) of the points whose time and value could be read."""
    members = _members(out)
    if interval:
        us, offsets = _place(out, members, "interval", "startTime", "startUtcOffset", "civilStartTime")
    else:
        us, offsets = _place(out, members, "sampleTime", "physicalTime", "utcOffset", "civilTime")
    values = np.full(len(members), np.nan)
    keep = np.zeros(len(members), dtype=bool)
    for i, m in enumerate(members):
        if m is None or us[i] == NAT:
            continue
        v = _number(m, value_key)
        if v is None:
            out.reject(i, value_key, f"{m.get(value_key)!r} is not a number", "not_a_number")
        elif sentinel is not None and v == sentinel:
            out.reject(
                i,
                value_key,
                f"{v} is the floor the device writes when it has no valid reading",
                "sentinel_value",
            )
        else:
            values[i], keep[i] = v, True
    index = np.flatnonzero(keep)
    return us[index], values[index], index, offsets, members


def _simple(
    metric: str, time_key: str, value_key: str, *, interval: bool = False, sentinel: float | None = None
) -> Callable[[_Out], None]:
    def run(out: _Out) -> None:
        ts, values, index, _, _ = _timed_values(
            out, time_key, value_key, interval=interval, sentinel=sentinel
        )
        out.add(metric, ts, values, index)

    return run


_ZONES = {"FAT_BURN": "azm_fat_burn", "CARDIO": "azm_cardio", "PEAK": "azm_peak"}


def _zone_minutes(out: _Out) -> None:
    ts, values, index, _, members = _timed_values(out, "startTime", "activeZoneMinutes", interval=True)
    zones = []
    for t, v, i in zip(ts, values, index, strict=True):
        member = members[i]
        assert member is not None
        zone = _ZONES.get(str(member.get("heartRateZone", "")).upper())
        if zone is None:
            out.reject(
                int(i),
                "heartRateZone",
                f"unknown heart-rate zone {member.get('heartRateZone')!r} "
                "(expected FAT_BURN, CARDIO or PEAK)",
                "malformed",
            )
            continue
        zones.append((zone, int(t), float(v), int(i)))
    total: dict[int, float] = defaultdict(float)
    first: dict[int, int] = {}
    for _zone, t, v, i in zones:
        total[t] += v  # several zones in one minute add up to the minute's AZM
        first.setdefault(t, i)
    keys = sorted(total)
    out.add("active_zone_minutes", keys, [total[k] for k in keys], [first[k] for k in keys])
    for metric in ("azm_fat_burn", "azm_cardio", "azm_peak"):
        rows = [(t, v, i) for z, t, v, i in zones if z == metric]
        out.add(metric, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


_STAGE_STATS = {
    "deepSleepStats": "breathing_rate_deep",
    "lightSleepStats": "breathing_rate_light",
    "remSleepStats": "breathing_rate_rem",
}


def _respiratory_summary(out: _Out) -> None:
    """One value per stage and local day, from the sleep that wakes up last that day (as Takeout's wake_day).
    fullSleepStats is the same quantity as daily-respiratory-rate, which feeds breathing_rate."""
    members = _members(out)
    us, offsets = _place(out, members, "sampleTime", "physicalTime", "utcOffset", "civilTime")
    latest: dict[date, int] = {}
    for i, m in enumerate(members):
        if m is None or us[i] == NAT:
            continue
        day = _local_day(int(us[i]), offsets[i], out.zone)
        if day not in latest or us[i] >= us[latest[day]]:
            latest[day] = i
    days = sorted(latest)
    for key, metric in _STAGE_STATS.items():
        rows = []
        for d in days:
            i = latest[d]
            stats = member.get(key) if (member := members[i]) else None
            value = _number(stats, "breathsPerMinute") if isinstance(stats, dict) else 0.0
            if value is None:
                out.reject(i, f"{key}.breathsPerMinute", "not a number", "not_a_number")
            elif value > 0:  # 0 (omitted): no value for this stage
                rows.append((d, value, i))
        out.add(metric, _day_us([r[0] for r in rows], out.zone), [r[1] for r in rows], [r[2] for r in rows])


def _daily(metric: str, value_key: str) -> Callable[[_Out], None]:
    def run(out: _Out) -> None:
        rows = []
        for i, m in enumerate(_members(out)):
            if m is None:
                continue
            d: Any = m.get("date")  # any JSON: a value of the wrong shape raises below
            try:
                day = date(int(d["year"]), int(d["month"]), int(d["day"]))
            except (KeyError, TypeError, ValueError):
                out.reject(i, "date", f"{d!r} is not a date", "bad_timestamp")
                continue
            value = _number(m, value_key)
            if value is None:
                out.reject(i, value_key, f"{m.get(value_key)!r} is not a number", "not_a_number")
            elif value != 0:  # omitted: the device computed no value that day
                rows.append((day, value, i))
        out.add(metric, _day_us([r[0] for r in rows], out.zone), [r[1] for r in rows], [r[2] for r in rows])

    return run


# ---- sleep ---------------------------------------------------------------------------------------------

_LEVELS = {
    "AWAKE": "wake",
    "LIGHT": "light",
    "DEEP": "deep",
    "REM": "rem",
    "ASLEEP": "asleep",
    "RESTLESS": "restless",
}


def _int(value: Any) -> int | None:  # any JSON value
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _sleep(out: _Out) -> None:
    main_minutes: dict[date, float] = defaultdict(float)
    main_point: dict[date, int] = {}
    for i, m in enumerate(_members(out)):
        if m is None:
            continue
        interval = m.get("interval") or {}
        start, end = parse_rfc3339(interval.get("startTime")), parse_rfc3339(interval.get("endTime"))
        if start is None or end is None:
            out.reject(i, "interval", "the sleep has no readable startTime/endTime", "bad_timestamp")
            continue
        if end <= start:
            out.reject(i, "interval.endTime", "sleep ends before it starts", "malformed")
            continue
        classic = str(m.get("type", "")).upper() == "CLASSIC"
        stages = []
        for st in m.get("stages") or []:
            s_start, s_end = parse_rfc3339(st.get("startTime")), parse_rfc3339(st.get("endTime"))
            if s_start is None or s_end is None or s_end <= s_start:
                continue
            kind = str(st.get("type", "")).upper()
            level = "awake" if classic and kind == "AWAKE" else _LEVELS.get(kind, kind.lower() or "unknown")
            stages.append(
                SleepStage(start=s_start, seconds=int((s_end - s_start).total_seconds()), level=level)
            )
        summary, metadata = m.get("summary") or {}, m.get("metadata") or {}
        offset = parse_offset(interval.get("endUtcOffset"))
        local_date = (end + offset).date() if offset is not None else end.astimezone(out.zone).date()
        name = out.points[i].get("name")
        session = SleepSession(
            start=start,
            end=end,
            local_date=local_date,
            is_main_sleep=bool(metadata.get("mainSleep", False)),
            file=out.path,
            record=f"point {i + 1}",
            minutes_asleep=_int(summary.get("minutesAsleep", 0)),
            minutes_awake=_int(summary.get("minutesAwake", 0)),
            sleep_type="classic" if classic else "stages",
            log_id=str(name).rsplit("/", 1)[-1] if name else None,
            stages=sorted(stages, key=lambda s: s.start),
        )
        out.parsed.sleep.append(session)
        if session.is_main_sleep and session.minutes_asleep is not None:
            main_minutes[local_date] += session.minutes_asleep
            main_point.setdefault(local_date, i)
    days = sorted(main_minutes)
    out.add(
        "sleep_minutes",
        _day_us(days, out.zone),
        [main_minutes[d] for d in days],
        [main_point[d] for d in days],
    )


_MAPPERS: dict[str, Callable[[_Out], None]] = {
    "heart-rate": _simple("heart_rate", "physicalTime", "beatsPerMinute"),
    "heart-rate-variability": _simple(
        "hrv_rmssd", "physicalTime", "rootMeanSquareOfSuccessiveDifferencesMilliseconds"
    ),
    "oxygen-saturation": _simple("spo2", "physicalTime", "percentage", sentinel=50.0),
    "steps": _simple("steps", "startTime", "count", interval=True),
    "active-zone-minutes": _zone_minutes,
    "respiratory-rate-sleep-summary": _respiratory_summary,
    "daily-heart-rate-variability": _daily("hrv_daily_rmssd", "averageHeartRateVariabilityMilliseconds"),
    "daily-oxygen-saturation": _daily("spo2_daily", "averagePercentage"),
    "daily-respiratory-rate": _daily("breathing_rate", "breathsPerMinute"),
    "sleep": _sleep,
}


def map_points(data_type: DataType, points: list[Point], *, path: str, zone: ZoneInfo) -> ParsedFile:
    """Map one window's points (any order) onto the catalog; unreadable points become rejected records."""
    out = _Out(data_type, path, zone, points)
    _MAPPERS[data_type.name](out)
    return out.parsed


assert set(_MAPPERS) == set(BY_NAME), "every data type needs a mapper"
