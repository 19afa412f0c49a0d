"""The Takeout files: valid, with the real export's headers and conventions, local-day boundaries, DST, non-wear."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from fitpipe_ingest.synth.cohort import CohortResult
from fitpipe_ingest.synth.participant import plan_participant
from fitpipe_ingest.synth.writers.fitbit_json import dumps

from .conftest import REAL_TAKEOUT, heart_rate_times, utc_seconds

CSV_FAMILIES = {
    # folder/prefix: (header, line end)
    "Heart Rate Variability/Heart Rate Variability Details - ": (
        "timestamp,rmssd,coverage,low_frequency,high_frequency",
        b"\r\n",
    ),
    "Heart Rate Variability/Daily Respiratory Rate Summary - ": ("timestamp,daily_respiratory_rate", b"\r\n"),
    "Oxygen Saturation (SpO2)/Minute SpO2 - ": ("timestamp,value", b"\r\n"),
    "Active Zone Minutes (AZM)/Active Zone Minutes - ": ("date_time,heart_zone_id,total_minutes", b"\n"),
}
JSON_FAMILIES = ("heart_rate-", "steps-", "resting_heart_rate-", "sleep-")


def _files(folder: Path, prefix: str) -> list[Path]:
    directory, _, name = prefix.rpartition("/")
    return sorted((folder / "Fitbit" / directory).glob(name + "*"))


def test_every_family_is_written(takeout: tuple[Path, CohortResult]) -> None:
    out, _ = takeout
    for prefix in CSV_FAMILIES:
        assert _files(out / "P0001", prefix), prefix
    for prefix in JSON_FAMILIES:
        assert _files(out / "P0001", "Global Export Data/" + prefix), prefix


def test_csv_files_have_the_export_headers_and_line_ends(takeout: tuple[Path, CohortResult]) -> None:
    out, _ = takeout
    for prefix, (header, line_end) in CSV_FAMILIES.items():
        for path in _files(out / "P0001", prefix):
            raw = path.read_bytes()
            assert raw.startswith(header.encode() + line_end), path.name
            assert not raw.endswith(b"\n"), f"{path.name}: the export ends files without a newline"
            if line_end == b"\n":
                assert b"\r" not in raw
            else:
                assert raw.count(b"\n") == raw.count(b"\r\n")
            rows = list(csv.reader(io.StringIO(raw.decode())))
            assert rows[0] == header.split(",") and len(rows) > 1
            assert all(len(r) == len(rows[0]) for r in rows)


@pytest.mark.skipif(
    not REAL_TAKEOUT.exists(),
    reason=f"the real Takeout export is not at {REAL_TAKEOUT} (set FITPIPE_SHARED_DATA)",
)
def test_csv_conventions_match_the_real_export(takeout: tuple[Path, CohortResult]) -> None:
    out, _ = takeout
    for prefix in CSV_FAMILIES:
        reals = _files(REAL_TAKEOUT.parent, prefix)
        assert reals, prefix
        real, ours = reals[0], _files(out / "P0001", prefix)[0]
        real_raw, our_raw = real.read_bytes(), ours.read_bytes()
        real_head, our_head = real_raw.split(b"\n")[:2], our_raw.split(b"\n")[:2]
        assert real_head[0] == our_head[0], prefix
        # the same timestamp shape: same length and the same separators in the same places
        shape = lambda line: bytes(c if c in b"-:TZ" else 48 for c in line.split(b",")[0])  # noqa: E731
        assert shape(real_head[1]) == shape(our_head[1]), prefix
        assert real_raw.endswith(b"\n") == our_raw.endswith(b"\n")


def test_json_files_parse_and_use_the_export_timestamp_styles(takeout: tuple[Path, CohortResult]) -> None:
    out, _ = takeout
    folder = out / "P0001" / "Fitbit" / "Global Export Data"
    for path in folder.glob("*.json"):
        raw = path.read_text()
        records = json.loads(raw)
        assert isinstance(records, list) and records
        assert dumps(records) == raw, f"{path.name} is not in the export's JSON style"
    hr = json.loads(next(folder.glob("heart_rate-*.json")).read_text())
    assert list(hr[0]) == ["dateTime", "value"] and list(hr[0]["value"]) == ["bpm", "confidence"]
    assert all(isinstance(r["value"]["bpm"], int) and r["value"]["confidence"] in (1, 2, 3) for r in hr)
    datetime.strptime(hr[0]["dateTime"], "%m/%d/%y %H:%M:%S")
    steps = json.loads(next(folder.glob("steps-*.json")).read_text())
    assert all(isinstance(r["value"], str) and r["value"].isdigit() for r in steps)
    resting = json.loads(next(folder.glob("resting_heart_rate-*.json")).read_text())
    assert [r["dateTime"] for r in resting] == ["01/01/24 00:00:00", "01/02/24 00:00:00", "01/03/24 00:00:00"]
    assert all(set(r["value"]) == {"date", "value", "error"} for r in resting)


@pytest.mark.skipif(
    not REAL_TAKEOUT.exists(),
    reason=f"the real Takeout export is not at {REAL_TAKEOUT} (set FITPIPE_SHARED_DATA)",
)
def test_sleep_logs_have_the_keys_of_real_ones(takeout: tuple[Path, CohortResult]) -> None:
    out, _ = takeout

    def keys(log: dict[str, object]) -> list[object]:
        levels = log["levels"]
        assert isinstance(levels, dict)
        summary = levels["summary"]
        return [
            list(log),
            list(levels),
            list(summary),
            [list(v) for v in summary.values()],
            list(levels["data"][0]),
        ]

    real = json.loads((REAL_TAKEOUT / "Global Export Data" / "sleep-2025-07-05.json").read_text())
    ours = [
        log for p in _files(out / "P0001", "Global Export Data/sleep-") for log in json.loads(p.read_text())
    ]
    real_stages = next(log for log in real if log["type"] == "stages")
    assert all(keys(log) == keys(real_stages) for log in ours if log["type"] == "stages")


def test_heart_rate_files_are_bounded_by_the_local_day(takeout: tuple[Path, CohortResult]) -> None:
    out, result = takeout
    for pid in ("P0001", "P0002"):
        zone = ZoneInfo(next(p.timezone for p in result.profiles if p.participant_id == pid))
        for path in _files(out / pid, "Global Export Data/heart_rate-"):
            day = datetime.strptime(path.stem.removeprefix("heart_rate-"), "%Y-%m-%d")
            begin = day.replace(tzinfo=zone).timestamp()
            end = (day + timedelta(days=1)).replace(tzinfo=zone).timestamp()
            stamps = [utc_seconds(r["dateTime"]) for r in json.loads(path.read_text())]
            assert begin <= min(stamps) and max(stamps) < end, path.name
    # Kolkata is UTC+5:30: its 1 January begins at 18:30 UTC on 31 December
    first = json.loads((out / "P0001/Fitbit/Global Export Data/heart_rate-2024-01-01.json").read_text())[0]
    assert first["dateTime"].startswith("12/31/23 18:3")


def test_auto_sampling_is_device_like(takeout: tuple[Path, CohortResult]) -> None:
    out, _ = takeout
    gaps = np.diff(np.array(heart_rate_times(out / "P0001")))
    worn_gaps = gaps[gaps <= 15]
    assert worn_gaps.min() >= 1
    assert np.mean(gaps <= 15) > 0.9  # longer gaps are non-wear
    assert np.any(worn_gaps <= 3) and np.any(worn_gaps >= 5)


@pytest.mark.parametrize(
    ("start", "day", "hours"), [("2024-03-09", "2024-03-10", 23), ("2024-11-02", "2024-11-03", 25)]
)
def test_clock_change_days_hold_23_or_25_hours_of_every_second(
    dst_takeout: Path, start: str, day: str, hours: int
) -> None:
    folder = dst_takeout / start / "P0001" / "Fitbit" / "Global Export Data"
    stamps = np.array(
        [utc_seconds(r["dateTime"]) for r in json.loads((folder / f"heart_rate-{day}.json").read_text())]
    )
    zone = ZoneInfo("America/New_York")
    begin = datetime.fromisoformat(day).replace(tzinfo=zone).timestamp()
    assert stamps.min() >= begin and stamps.max() < begin + hours * 3600
    assert (
        stamps.max() >= begin + hours * 3600 - 3 * 3600
    )  # the file reaches the end of its longer/shorter day
    assert np.all(np.diff(stamps) >= 1) and np.mean(np.diff(stamps) == 1) > 0.99  # --hr-interval 1
    logs = json.loads(next(folder.glob("sleep-*.json")).read_text())
    assert logs and all(
        datetime.fromisoformat(log["endTime"]).date().isoformat() == log["dateOfSleep"] for log in logs
    )


def test_non_wear_leaves_no_samples_steps_or_sleep(takeout: tuple[Path, CohortResult]) -> None:
    out, result = takeout
    poor = next(p for p in result.profiles if p.kind == "poor")
    plan = plan_participant(poor)
    assert plan.nonwear, "a poor participant has non-wear episodes"
    folder = out / poor.participant_id
    hr = np.array(heart_rate_times(folder))
    steps = np.array(
        [
            utc_seconds(r["dateTime"])
            for p in _files(folder, "Global Export Data/steps-")
            for r in json.loads(p.read_text())
        ]
    )
    for start, end in plan.nonwear:
        assert not np.any((hr >= start) & (hr < end))
        # a step minute is listed when at least half of it was worn
        assert not np.any((steps >= start) & (steps + 60 <= end))
    for path in _files(folder, "Global Export Data/sleep-"):
        for log in json.loads(path.read_text()):
            zone = ZoneInfo(poor.timezone)
            a = datetime.fromisoformat(log["startTime"]).replace(tzinfo=zone).timestamp()
            b = datetime.fromisoformat(log["endTime"]).replace(tzinfo=zone).timestamp()
            assert not any(s < b and a < e for s, e in plan.nonwear)
    assert hr.size > 0


def test_sleep_logs_have_the_fitbit_shape(takeout: tuple[Path, CohortResult]) -> None:
    out, _ = takeout
    logs = [
        log for p in _files(out / "P0001", "Global Export Data/sleep-") for log in json.loads(p.read_text())
    ]
    main = [log for log in logs if log["mainSleep"]]
    assert main
    keys = [
        "logId",
        "dateOfSleep",
        "startTime",
        "endTime",
        "duration",
        "minutesToFallAsleep",
        "minutesAsleep",
        "minutesAwake",
        "minutesAfterWakeup",
        "timeInBed",
        "efficiency",
        "type",
        "infoCode",
        "logType",
        "levels",
        "mainSleep",
    ]
    starts = [log["startTime"] for log in logs]
    assert starts == sorted(starts, reverse=True)  # newest first, as in the export
    for log in main:
        assert list(log) == keys and log["type"] == "stages"
        summary = log["levels"]["summary"]
        assert list(summary) == ["deep", "wake", "light", "rem"]
        assert sum(s["minutes"] for s in summary.values()) == log["timeInBed"]
        assert log["minutesAsleep"] + log["minutesAwake"] == log["timeInBed"]
        data = log["levels"]["data"]
        assert data[0]["dateTime"] == log["startTime"]
        for a, b in zip(data, data[1:], strict=False):
            assert datetime.fromisoformat(a["dateTime"]) + timedelta(
                seconds=a["seconds"]
            ) == datetime.fromisoformat(b["dateTime"])
        assert all(s["level"] == "wake" and 30 <= s["seconds"] <= 180 for s in log["levels"]["shortData"])
        assert summary["wake"]["count"] == sum(d["level"] == "wake" for d in data) + len(
            log["levels"]["shortData"]
        )
        assert log["duration"] == log["timeInBed"] * 60_000


def test_spo2_files_split_by_utc_day_and_repeat_the_first_minute_after_midnight(
    takeout: tuple[Path, CohortResult],
) -> None:
    out, _ = takeout
    rows: dict[str, list[str]] = {}
    for path in _files(out / "P0001", "Oxygen Saturation (SpO2)/Minute SpO2 - "):
        day = path.stem.removeprefix("Minute SpO2 - ")
        rows[day] = [line.split(",")[0] for line in path.read_text().splitlines()[1:]]
        for stamp in rows[day]:
            moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            assert moment.date().isoformat() == day or (moment.hour, moment.minute) == (0, 0)
    assert rows
