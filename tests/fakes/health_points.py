"""Builders of Google Health API v4 data points in proto3 JSON (lowerCamelCase, int64 as strings, zero
values omitted), for the fake API and the tests. Shapes follow ../shared/formats/google-health-api.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

Point = dict[str, Any]

SOURCE = {
    "recordingMethod": "PASSIVELY_MEASURED",
    "device": {"displayName": "Charge 6", "manufacturer": "Google"},
    "platform": "FITBIT",
}


def iso(instant: datetime) -> str:
    text = instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if instant.microsecond:
        text += f".{instant.microsecond:06d}".rstrip("0")
    return text + "Z"


def civil(instant: datetime, offset_s: int) -> dict[str, Any]:
    local = instant.astimezone(UTC) + timedelta(seconds=offset_s)
    time: dict[str, int] = {
        k: v for k, v in (("hours", local.hour), ("minutes", local.minute), ("seconds", local.second)) if v
    }
    return {"date": {"year": local.year, "month": local.month, "day": local.day}, "time": time}


def sample_time(instant: datetime, offset_s: int = 0) -> dict[str, Any]:
    stamp: dict[str, Any] = {"physicalTime": iso(instant), "civilTime": civil(instant, offset_s)}
    if offset_s:
        stamp["utcOffset"] = f"{offset_s}s"
    return stamp


def interval(start: datetime, end: datetime, offset_s: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "startTime": iso(start),
        "endTime": iso(end),
        "civilStartTime": civil(start, offset_s),
        "civilEndTime": civil(end, offset_s),
    }
    if offset_s:
        out["startUtcOffset"] = out["endUtcOffset"] = f"{offset_s}s"
    return out


def _nonzero(member: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    if value not in (0, 0.0, "0", None):
        member[key] = value
    return member


def heart_rate(
    start: datetime,
    n: int,
    step: timedelta = timedelta(seconds=5),
    bpm: Callable[[int], int] = lambda i: 60 + i % 40,
    offset_s: int = 0,
) -> list[Point]:
    return [
        {
            "dataSource": SOURCE,
            "heartRate": {
                "sampleTime": sample_time(start + i * step, offset_s),
                "beatsPerMinute": str(bpm(i)),
            },
        }
        for i in range(n)
    ]


def hrv(
    start: datetime,
    n: int,
    step: timedelta = timedelta(minutes=5),
    rmssd: Callable[[int], float] = lambda i: 30.0 + i % 20,
    offset_s: int = 0,
) -> list[Point]:
    return [
        {
            "dataSource": SOURCE,
            "heartRateVariability": {
                "sampleTime": sample_time(start + i * step, offset_s),
                "rootMeanSquareOfSuccessiveDifferencesMilliseconds": rmssd(i),
                "standardDeviationMilliseconds": 50.0,
            },
        }
        for i in range(n)
    ]


def spo2(
    start: datetime,
    n: int,
    step: timedelta = timedelta(minutes=1),
    percentage: Callable[[int], float] = lambda i: 95.0 + i % 4,
    offset_s: int = 0,
) -> list[Point]:
    return [
        {
            "dataSource": SOURCE,
            "oxygenSaturation": {
                "sampleTime": sample_time(start + i * step, offset_s),
                "percentage": percentage(i),
            },
        }
        for i in range(n)
    ]


def steps(
    start: datetime, minutes: int, count: Callable[[int], int] = lambda i: i % 30, offset_s: int = 0
) -> list[Point]:
    step = timedelta(minutes=1)
    return [
        {
            "dataSource": SOURCE,
            "steps": _nonzero(
                {"interval": interval(start + i * step, start + (i + 1) * step, offset_s)},
                "count",
                str(count(i)),
            ),
        }
        for i in range(minutes)
    ]


def zone_minutes(start: datetime, zones: Sequence[str], offset_s: int = 0) -> list[Point]:
    """One point per minute from `start`, in the zone given (FAT_BURN 1 minute, CARDIO/PEAK 2)."""
    step = timedelta(minutes=1)
    return [
        {
            "dataSource": SOURCE,
            "activeZoneMinutes": {
                "interval": interval(start + i * step, start + (i + 1) * step, offset_s),
                "heartRateZone": zone,
                "activeZoneMinutes": "1" if zone == "FAT_BURN" else "2",
            },
        }
        for i, zone in enumerate(zones)
    ]


def _date(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def daily_hrv(day: date, average: float) -> Point:
    return {
        "dataSource": SOURCE,
        "dailyHeartRateVariability": _nonzero(
            {"date": _date(day), "nonRemHeartRateBeatsPerMinute": "54", "entropy": 2.4},
            "averageHeartRateVariabilityMilliseconds",
            average,
        ),
    }


def daily_spo2(day: date, average: float) -> Point:
    return {
        "dataSource": SOURCE,
        "dailyOxygenSaturation": _nonzero(
            {"date": _date(day), "lowerBoundPercentage": 94.0, "upperBoundPercentage": 100.0},
            "averagePercentage",
            average,
        ),
    }


def daily_respiratory_rate(day: date, rate: float) -> Point:
    return {
        "dataSource": SOURCE,
        "dailyRespiratoryRate": _nonzero({"date": _date(day)}, "breathsPerMinute", rate),
    }


def respiratory_summary(
    instant: datetime, offset_s: int, full: float, deep: float, light: float, rem: float
) -> Point:
    def stats(v: float) -> dict[str, float]:
        return {"breathsPerMinute": v, "standardDeviation": 1.1, "signalToNoise": 3.0}

    return {
        "dataSource": SOURCE,
        "respiratoryRateSleepSummary": {
            "sampleTime": sample_time(instant, offset_s),
            "fullSleepStats": stats(full),
            "deepSleepStats": stats(deep),
            "lightSleepStats": stats(light),
            "remSleepStats": stats(rem),
        },
    }


def sleep(
    log_id: str,
    user: str,
    start: datetime,
    end: datetime,
    *,
    offset_s: int = 0,
    main: bool = True,
    stages: Sequence[tuple[str, int]] = (),
    minutes_awake: int = 0,
) -> Point:
    """A sleep with `stages` as (type, minutes) from its start; minutesAsleep counts the non-AWAKE ones."""
    out, at = [], start
    for kind, minutes in stages:
        nxt = at + timedelta(minutes=minutes)
        out.append(
            {"startTime": iso(at), "endTime": iso(nxt), "type": kind}
            | ({"startUtcOffset": f"{offset_s}s", "endUtcOffset": f"{offset_s}s"} if offset_s else {})
        )
        at = nxt
    asleep = sum(m for k, m in stages if k != "AWAKE") if stages else int((end - start).total_seconds() // 60)
    metadata: dict[str, Any] = {"stagesStatus": "SUCCEEDED", "processed": True}
    if main:
        metadata["mainSleep"] = True
    return {
        "name": f"users/{user}/dataTypes/sleep/dataPoints/{log_id}",
        "dataSource": SOURCE,
        "sleep": {
            "interval": interval(start, end, offset_s),
            "type": "STAGES",
            "stages": out,
            "metadata": metadata,
            "summary": _nonzero(
                {
                    "minutesInSleepPeriod": str(int((end - start).total_seconds() // 60)),
                    "minutesAsleep": str(asleep),
                },
                "minutesAwake",
                str(minutes_awake),
            ),
            "createTime": iso(end + timedelta(minutes=5)),
            "updateTime": iso(end + timedelta(minutes=5)),
        },
    }
