"""The Google Takeout / Fitbit export source: the real Pixel Watch export (checked against an independent
reading with json/csv/zoneinfo), hand-written fixtures for the traps and bad input, zip input, speed."""

from __future__ import annotations

import csv
import json
import random
import shutil
import zipfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from fitpipe.catalog import BY_NAME
from fitpipe.errors import InputError
from fitpipe.participants import add_participant
from fitpipe_ingest.load import LoadOptions
from fitpipe_ingest.pipeline.files import FileRules, ingest_path
from fitpipe_ingest.records import ParseContext, ParsedFile, SleepSession
from fitpipe_ingest.sources.registry import detect_source, get_source
from fitpipe_ingest.sources.takeout import SOURCE
from fitpipe_ingest.tree import InputTree, open_tree
from tests.shared_data import shared

REAL = shared("realdata", "takeout-pixelwatch3-2025")
REAL_FITBIT = REAL / "Fitbit"
BANGKOK = ZoneInfo("Asia/Bangkok")
FIXTURE = Path(__file__).parents[2] / "fixtures" / "takeout" / "export"
FIXTURE_FITBIT = FIXTURE / "Takeout" / "Fitbit"
NEW_YORK = ZoneInfo("America/New_York")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

needs_real = pytest.mark.skipif(
    not REAL.exists(), reason=f"the real export is not at {REAL} (../shared absent)"
)


def us(naive: datetime, tz: ZoneInfo) -> int:
    return (naive.replace(tzinfo=tz) - EPOCH) // timedelta(microseconds=1)


def utc_us(text: str) -> int:
    return us(datetime.fromisoformat(text), ZoneInfo("UTC"))


def parse_all(tree: InputTree, tz: ZoneInfo) -> dict[str, ParsedFile]:
    return {path: SOURCE.parse(tree, path, ParseContext(tz)) for path in SOURCE.plan(tree).files}


def samples(parsed: dict[str, ParsedFile], metric: str, where: str = "") -> dict[int, float]:
    """metric's samples of the files whose path contains `where`, as {ts: value} (the loader's last-wins)."""
    out: dict[int, float] = {}
    for path, pf in parsed.items():
        if where in path:
            for b in pf.batches:
                if b.metric == metric:
                    out.update(zip(b.ts.tolist(), b.value.tolist(), strict=True))
    return out


def count(parsed: dict[str, ParsedFile], metric: str) -> int:
    return sum(len(b) for pf in parsed.values() for b in pf.batches if b.metric == metric)


def sessions(parsed: dict[str, ParsedFile]) -> list[SleepSession]:
    return [s for pf in parsed.values() for s in pf.sleep]


def only(parsed: dict[str, ParsedFile], name: str) -> ParsedFile:
    found = [pf for path, pf in parsed.items() if path.endswith(name)]
    assert len(found) == 1, name
    return found[0]


def rejected(pf: ParsedFile) -> dict[tuple[str, str], str]:
    return {(r.record, r.field): r.kind for r in pf.rejected}


# --- an independent reading of the real export -------------------------------------------------------------


def json_records(pattern: str) -> list[dict[str, Any]]:
    return [rec for path in sorted(REAL_FITBIT.glob(pattern)) for rec in json.loads(path.read_text())]


def csv_rows(pattern: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(REAL_FITBIT.glob(pattern)):
        with path.open(newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


@pytest.fixture(scope="module")
def real() -> dict[str, ParsedFile]:
    if not REAL.exists():
        pytest.skip(f"the real export is not at {REAL} (../shared absent)")
    return parse_all(open_tree(REAL), BANGKOK)


@needs_real
def test_real_export_is_detected_and_its_unknown_files_listed() -> None:
    tree = open_tree(REAL)
    assert detect_source(tree) is SOURCE
    plan = SOURCE.plan(tree)
    assert sorted(Path(p).name for p in plan.unknown) == sorted(
        ["UserSleepScores_2024-10-19.csv", "Heart Rate Variability Histogram - 2025-07-01.csv"]
        + [f"Wrist Temperature - 2025-07-{d}.csv" for d in (17, 18, 19, 20)]
    )
    readmes = [p for p in tree.paths() if "readme" in p.lower()]
    assert sorted(plan.documentation) == sorted(readmes)
    assert len(plan.files) + len(plan.unknown) + len(plan.documentation) == len(tree.paths())


@needs_real
def test_real_export_sample_counts_per_metric(real: dict[str, ParsedFile]) -> None:
    heart_json = json_records("Global Export Data/heart_rate-*.json")
    steps_json = json_records("Global Export Data/steps-*.json")
    rhr_json = [r for r in json_records("Global Export Data/resting_heart_rate-*.json") if r["value"]["date"]]
    spo2_rows = csv_rows("Oxygen Saturation (SpO2)/Minute SpO2 - *.csv")
    google_spo2 = csv_rows("Physical Activity_GoogleData/oxygen_saturation_*.csv")
    details = csv_rows("Heart Rate Variability/Heart Rate Variability Details - *.csv")
    azm = csv_rows("Active Zone Minutes (AZM)/*.csv")
    google_azm = csv_rows("Physical Activity_GoogleData/active_zone_minutes_*.csv")
    expected = {
        "heart_rate": len(heart_json) + len(csv_rows("Physical Activity_GoogleData/heart_rate_2*.csv")),
        "steps": len(steps_json) + len(csv_rows("Physical Activity_GoogleData/steps_*.csv")),
        "spo2": sum(float(r["value"]) != 50.0 for r in spo2_rows)
        + sum(float(r["oxygen saturation percentage"]) != 50.0 for r in google_spo2),
        "oxygen_variation": len(csv_rows("Global Export Data/estimated_oxygen_variation-*.csv")),
        "hrv_rmssd": len(details)
        + len(csv_rows("Physical Activity_GoogleData/heart_rate_variability_*.csv")),
        "hrv_coverage": len(details),
        "active_zone_minutes": len(azm) + len(google_azm),
        "azm_fat_burn": sum(r["heart_zone_id"] == "FAT_BURN" for r in azm)
        + sum(r["heart rate zone"] == "fat burn" for r in google_azm),
        "azm_peak": sum(r["heart_zone_id"] == "PEAK" for r in azm)
        + sum(r["heart rate zone"] == "peak" for r in google_azm),
        "resting_heart_rate": len(rhr_json)
        + len(csv_rows("Physical Activity_GoogleData/daily_resting_heart_rate.csv")),
        "sedentary_minutes": len(json_records("Global Export Data/sedentary_minutes-*.json")),
        "hr_zone_peak": len(json_records("Global Export Data/time_in_heart_rate_zones-*.json")),
        "spo2_daily": len(csv_rows("Oxygen Saturation (SpO2)/Daily SpO2 - *.csv"))
        + len(csv_rows("Physical Activity_GoogleData/daily_oxygen_saturation_*.csv")),
    }
    assert {m: count(real, m) for m in expected} == expected
    assert (
        sum(len(pf.rejected) for pf in real.values())
        == len(spo2_rows) + len(google_spo2) - (expected["spo2"])
    ), "the only rejected records of the real export are SpO2 50.0 floor values"
    assert all(m in BY_NAME for pf in real.values() for m in (b.metric for b in pf.batches))


@needs_real
def test_real_sleep_sessions_are_each_emitted_once(real: dict[str, ParsedFile]) -> None:
    logs = json_records("Global Export Data/sleep-*.json")
    json_starts = {str(r["startTime"])[:19] for r in logs}
    user_sleeps = csv_rows("Health Fitness Data_GoogleData/UserSleeps_*.csv")
    only_google = [r for r in user_sleeps if r["sleep_start"][:19].replace(" ", "T") not in json_starts]
    emitted = sessions(real)
    assert len(emitted) == len({r["logId"] for r in logs}) + len(only_google)
    assert len({s.start for s in emitted}) == len(emitted), "no session twice (the DB keys them by start)"
    main_days = {r["dateOfSleep"] for r in logs if r["mainSleep"]}
    assert count(real, "sleep_minutes") == len(main_days)


@needs_real
def test_heart_rate_has_the_non_wear_gap(real: dict[str, ParsedFile]) -> None:
    ts = np.array(sorted(samples(real, "heart_rate")))
    before = ts[ts < utc_us("2025-07-18T15:40:00")][-1]
    after = ts[ts > utc_us("2025-07-18T15:40:00")][0]
    assert before == utc_us("2025-07-18T15:36:29")
    assert after == utc_us("2025-07-19T13:09:32")
    assert (after - before) / 3.6e9 > 21.5


@needs_real
def test_the_three_nights_start_at_their_utc_instants(real: dict[str, ParsedFile]) -> None:
    window = [s for s in sessions(real) if date(2025, 7, 17) <= s.local_date <= date(2025, 7, 20)]
    assert sorted(s.start for s in window) == [
        datetime(2025, 7, 16, 17, 10, tzinfo=UTC),  # 00:10 in Bangkok (UTC+7)
        datetime(2025, 7, 17, 16, 34, 30, tzinfo=UTC),
        datetime(2025, 7, 19, 13, 20, tzinfo=UTC),
    ]
    assert all(s.is_main_sleep and s.stages and s.file.endswith("sleep-2025-07-05.json") for s in window)
    assert {s.local_date for s in window} == {date(2025, 7, 17), date(2025, 7, 18), date(2025, 7, 20)}


@needs_real
def test_json_and_google_csv_heart_rate_agree_sample_for_sample(real: dict[str, ParsedFile]) -> None:
    from_json = samples(real, "heart_rate", "Global Export Data")
    from_csv = samples(real, "heart_rate", "GoogleData")
    overlap = set(from_json) & set(from_csv)
    assert len(overlap) > 50_000
    assert all(from_json[t] == from_csv[t] for t in overlap)
    lo, hi = min(from_json), max(from_json)
    assert {t for t in from_csv if lo <= t <= hi} == overlap, "inside the JSON's span the CSV adds no sample"


@needs_real
def test_local_and_utc_zone_minute_files_land_on_the_same_instants(real: dict[str, ParsedFile]) -> None:
    fitbit = samples(real, "active_zone_minutes", "Active Zone Minutes (AZM)")
    google = samples(real, "active_zone_minutes", "GoogleData")
    assert fitbit == google and len(fitbit) > 1000


@needs_real
def test_daily_hrv_summary_is_dated_by_its_row_not_its_file_name(real: dict[str, ParsedFile]) -> None:
    seventeenth = only(real, "Daily Heart Rate Variability Summary - 2025-07-(17).csv")
    assert [(b.metric, b.ts.tolist(), b.value.tolist()) for b in seventeenth.batches] == [
        ("hrv_daily_rmssd", [us(datetime(2025, 7, 18), BANGKOK)], [52.872])
    ]
    # the non-wear night's summary holds rmssd 0.0: no HRV was computed, nothing is stored
    assert only(real, "Daily Heart Rate Variability Summary - 2025-07-(18).csv").batches == []


@needs_real
def test_missing_respiratory_rate_is_not_stored(real: dict[str, ParsedFile]) -> None:
    summary = csv_rows("Heart Rate Variability/Respiratory Rate Summary - *.csv")
    assert any(r["deep_sleep_breathing_rate"] == "-1.0" for r in summary), "the trap is in the data"
    for metric in ("breathing_rate", "breathing_rate_deep", "breathing_rate_light", "breathing_rate_rem"):
        assert all(v > 0 for v in samples(real, metric).values()), metric
    july_19 = us(datetime(2025, 7, 19), BANGKOK)  # its only sleep row has deep and REM at -1.0
    assert july_19 in samples(real, "breathing_rate") and july_19 not in samples(real, "breathing_rate_deep")


@needs_real
def test_real_heart_rate_json_parses_every_record(real: dict[str, ParsedFile]) -> None:
    """Every heart-rate record of the real export becomes a sample or a named rejection (parse speed:
    bench/parse_takeout.py)."""
    tree = open_tree(REAL)
    files = [p for p in SOURCE.plan(tree).files if "/heart_rate-" in p]
    assert files
    for p in files:
        records = json.loads(tree.read_bytes(p))
        pf = SOURCE.parse(tree, p, ParseContext(BANGKOK))
        assert sum(len(b) for b in pf.batches) + len(pf.rejected) == len(records), p


# --- hand-written fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fx() -> dict[str, ParsedFile]:
    return parse_all(open_tree(FIXTURE), NEW_YORK)


def test_fixture_plan_separates_unknown_files_and_readmes() -> None:
    plan = SOURCE.plan(open_tree(FIXTURE))
    assert sorted(plan.unknown) == [
        "Takeout/Fitbit/Stress Score/Stress Score.csv",
        "Takeout/Fitbit/Temperature/Wrist Temperature - 2024-03-10.csv",
        "Takeout/archive_browser.html",
    ]
    assert all("readme" in p.lower() for p in plan.documentation) and len(plan.documentation) == 3
    assert not set(plan.files) & (set(plan.unknown) | set(plan.documentation))


def test_plan_loads_files_in_the_order_of_the_dates_in_their_names() -> None:
    files = SOURCE.plan(open_tree(FIXTURE)).files
    assert files[0].endswith("Sleep Score/sleep_score.csv"), "whole-history files without a date come first"
    sleep = [p for p in files if "/sleep-" in p]
    assert [Path(p).name for p in sleep] == ["sleep-2024-03-01.json", "sleep-2024-03-10.json"]
    hrv = [p for p in files if "Daily Heart Rate Variability Summary" in p]
    assert [Path(p).name[-9:] for p in hrv] == ["-(09).csv", "-(10).csv"]


def test_unknown_file_is_refused_by_parse() -> None:
    tree = open_tree(FIXTURE)
    with pytest.raises(InputError, match="Stress Score.csv"):
        SOURCE.parse(tree, "Takeout/Fitbit/Stress Score/Stress Score.csv", ParseContext(NEW_YORK))


def test_bad_json_records_are_rejected_by_record_index(fx: dict[str, ParsedFile]) -> None:
    pf = only(fx, "heart_rate-2024-03-10.json")
    assert rejected(pf) == {
        ("record 2", "dateTime"): "bad_timestamp",  # February 30th
        ("record 3", "value.bpm"): "not_a_number",
        ("record 4", "value.bpm"): "missing_field",
        ("record 6", ""): "malformed",
    }
    (hr,) = pf.batches
    assert hr.item is not None and hr.item.tolist() == [0, 1, 5, 7]
    assert hr.value.tolist() == [61, 62, 64, 65]
    assert hr.ts[0] == utc_us("2024-03-10T05:00:01"), "Global Export heart rate is UTC as written"
    assert pf.records_read == 8
    assert all(len(r.raw) <= 1000 and r.raw.startswith(("{", "[")) for r in pf.rejected)


def test_bad_csv_lines_are_rejected_by_line_and_good_lines_keep_their_numbers(
    fx: dict[str, ParsedFile],
) -> None:
    pf = only(fx, "heart_rate_2024-03-10.csv")
    assert rejected(pf) == {("line 4", "line"): "malformed", ("line 5", "timestamp"): "bad_timestamp"}
    (hr,) = pf.batches
    assert hr.line is not None and hr.line.tolist() == [2, 3, 7], "the blank line 6 is counted"
    assert samples({"f": pf}, "heart_rate") == {
        utc_us("2024-03-10T05:00:01"): 61.0,
        utc_us("2024-03-10T05:00:04"): 62.0,
        utc_us("2024-03-10T05:00:14"): 65.0,
    }
    assert [r.raw for r in pf.rejected if r.record == "line 4"] == ["2024-03-10T05:00:05Z,63.0,9"]


def test_local_times_that_do_not_exist_are_rejected(fx: dict[str, ParsedFile]) -> None:
    # 2024-03-10: New York clocks jump from 02:00 to 03:00
    eov = only(fx, "estimated_oxygen_variation-2024-03-10.csv")
    assert rejected(eov) == {("line 4", "timestamp"): "nonexistent_local_time"}
    assert sorted(samples({"f": eov}, "oxygen_variation")) == [
        utc_us("2024-03-10T06:58:00"),
        utc_us("2024-03-10T06:59:00"),
        utc_us("2024-03-10T07:00:00"),  # 03:00 EDT
    ]
    details = only(fx, "Heart Rate Variability Details - 2024-03-10.csv")
    assert rejected(details) == {
        ("line 4", "timestamp"): "nonexistent_local_time",
        ("line 5", "rmssd"): "not_a_number",
    }
    assert count({"f": details}, "hrv_rmssd") == 3 and count({"f": details}, "hrv_coverage") == 4
    sleep = only(fx, "sleep-2024-03-01.json")
    assert ("record 0", "levels.data[2].dateTime") in rejected(sleep)


def test_sleep_log_in_two_monthly_files_is_emitted_once(fx: dict[str, ParsedFile]) -> None:
    march_1, march_10 = only(fx, "sleep-2024-03-01.json"), only(fx, "sleep-2024-03-10.json")
    assert sorted(s.log_id or "" for s in march_1.sleep) == ["1001", "1002", "1003"]
    assert [s.log_id for s in march_10.sleep] == ["1004"], (
        "1003 is also in this file but belongs to the first"
    )
    assert rejected(march_1)[("record 3", "startTime")] == "missing_field"
    minutes = samples(fx, "sleep_minutes")
    assert minutes == {
        us(datetime(2024, 3, 9), NEW_YORK): 400.0,  # main sleep only: the 55-minute nap is not counted
        us(datetime(2024, 3, 10), NEW_YORK): 360.0,
        us(datetime(2024, 3, 11), NEW_YORK): 430.0,
    }
    assert count(fx, "sleep_minutes") == 3, "each day once, from the file owning its first main sleep"
    assert samples(fx, "sleep_efficiency")[us(datetime(2024, 3, 9), NEW_YORK)] == 89.0


def test_sleep_sessions_carry_utc_instants_stages_and_summary(fx: dict[str, ParsedFile]) -> None:
    by_id = {s.log_id: s for s in sessions(fx)}
    night = by_id["1003"]  # 23:45 EST → 07:15 EDT across the DST change
    assert night.start == datetime(2024, 3, 10, 4, 45, tzinfo=UTC)
    assert night.end == datetime(2024, 3, 10, 11, 15, tzinfo=UTC)
    assert (
        night.local_date,
        night.is_main_sleep,
        night.minutes_asleep,
        night.minutes_awake,
        night.efficiency,
    ) == (
        date(2024, 3, 10),
        True,
        360,
        30,
        92,
    )
    assert [(st.start.hour, st.level, st.is_short) for st in night.stages] == [
        (4, "wake", False),
        (4, "light", False),
        (7, "rem", False),  # 03:00 EDT
        (8, "wake", True),
    ]
    nap = by_id["1002"]
    assert (nap.is_main_sleep, nap.sleep_type, [st.level for st in nap.stages]) == (
        False,
        "classic",
        ["asleep", "restless", "asleep"],
    )


def test_google_user_sleeps_are_wall_clock_and_not_duplicated(fx: dict[str, ParsedFile]) -> None:
    pf = only(fx, "UserSleeps_2024-03-01.csv")
    by_id = {s.log_id or "": s for s in pf.sleep}
    assert sorted(by_id) == ["9002", "9003"], "9001 is sleep log 1001 (same local start) and is left to it"
    night = by_id["9003"]
    assert night.start == datetime(2024, 3, 12, 4, 30, tzinfo=UTC), "'00:30:00+0000' is 00:30 New York time"
    assert (night.is_main_sleep, by_id["9002"].is_main_sleep) == (True, False)
    assert [(st.level, st.seconds) for st in night.stages] == [
        ("light", 5400),
        ("deep", 3600),
        ("rem", 12600),
    ]
    assert rejected(pf) == {("line 5", "sleep_start"): "bad_timestamp"}
    stages = only(fx, "UserSleepStages_2024-03-01.csv")
    assert rejected(stages) == {("line 4", "sleep_stage_end"): "malformed"} and not stages.batches


def test_daily_values_are_stored_at_local_midnight(fx: dict[str, ParsedFile]) -> None:
    assert samples(fx, "sedentary_minutes") == {
        us(datetime(2024, 3, 9), NEW_YORK): 1020.0,  # 05:00 UTC (EST)
        us(datetime(2024, 3, 10), NEW_YORK): 980.0,
    }
    assert samples(fx, "breathing_rate", "Daily Respiratory") == {us(datetime(2024, 3, 11), NEW_YORK): 14.6}
    assert us(datetime(2024, 3, 11), NEW_YORK) == utc_us("2024-03-11T04:00:00"), "EDT from 03-10 on"
    assert samples(fx, "hr_zone_fat_burn") == {us(datetime(2024, 3, 10), NEW_YORK): 28.0}
    assert samples(fx, "sleep_score") == {
        us(datetime(2024, 3, 9), NEW_YORK): 75.0,
        us(datetime(2024, 3, 11), NEW_YORK): 81.0,
    }


def test_vendor_no_value_markers_are_skipped_and_the_spo2_floor_rejected(fx: dict[str, ParsedFile]) -> None:
    assert samples(fx, "resting_heart_rate") == {us(datetime(2024, 3, 9), NEW_YORK): 58.5}
    assert only(fx, "Daily Heart Rate Variability Summary - 2024-03-(10).csv").batches == []
    assert samples(fx, "hrv_daily_rmssd") == {us(datetime(2024, 3, 10), NEW_YORK): 52.9}
    summary = only(fx, "Respiratory Rate Summary - 2024-03-01.csv")
    assert samples({"f": summary}, "breathing_rate_deep") == {us(datetime(2024, 3, 9), NEW_YORK): 14.0}
    assert samples({"f": summary}, "breathing_rate") == {
        us(datetime(2024, 3, 9), NEW_YORK): 14.4,  # the later of the day's two sleeps
        us(datetime(2024, 3, 10), NEW_YORK): 15.4,
    }
    spo2 = only(fx, "Minute SpO2 - 2024-03-10.csv")
    assert rejected(spo2) == {("line 3", "value"): "sentinel_value", ("line 5", "timestamp"): "bad_timestamp"}
    assert sorted(samples({"f": spo2}, "spo2").values()) == [94.8, 95.2]


def test_units_and_derived_values(fx: dict[str, ParsedFile]) -> None:
    assert samples(fx, "distance") == {
        utc_us("2024-03-10T05:00:00"): 15.2,
        utc_us("2024-03-10T05:01:00"): 0.0,
    }
    assert samples(fx, "calories")[utc_us("2024-03-10T05:00:00")] == 1.23
    assert samples(fx, "skin_temperature") == {us(datetime(2024, 3, 10), NEW_YORK): 90.0 / 360}
    steps = only(fx, "steps-2024-03-10.json")
    assert rejected(steps) == {("record 2", "value"): "not_a_number"}
    assert sorted(samples({"f": steps}, "steps").values()) == [0.0, 12.0, 101.0]


def test_zone_minutes_from_both_layouts_agree(fx: dict[str, ParsedFile]) -> None:
    fitbit = only(fx, "Active Zone Minutes - 2024-03-01.csv")
    google = only(fx, "active_zone_minutes_2024-03-01.csv")
    assert rejected(fitbit) == {("line 5", "heart_zone_id"): "malformed"}
    for metric in ("active_zone_minutes", "azm_fat_burn", "azm_cardio", "azm_peak"):
        assert samples({"f": fitbit}, metric) == samples({"g": google}, metric), metric
    assert samples({"f": fitbit}, "azm_cardio") == {utc_us("2024-03-09T20:21:00"): 2.0}


def _zip(root: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(root).as_posix())
    return target


def _summary(parsed: dict[str, ParsedFile]) -> dict[str, object]:
    def strip(path: str) -> str:
        return "/".join(Path(path).parts[-2:])

    return {
        strip(path): (
            pf.kind,
            pf.records_read,
            sorted((b.metric, b.ts.tolist(), b.value.tolist()) for b in pf.batches),
            sorted((s.start, s.log_id) for s in pf.sleep),
            sorted((r.record, r.field, r.reason) for r in pf.rejected),
        )
        for path, pf in parsed.items()
    }


@pytest.mark.parametrize("layout", ["Takeout/Fitbit", "Fitbit", "folders"])
def test_zip_input_reads_like_the_directory(tmp_path: Path, fx: dict[str, ParsedFile], layout: str) -> None:
    source = {"Takeout/Fitbit": FIXTURE, "Fitbit": FIXTURE / "Takeout", "folders": FIXTURE_FITBIT}[layout]
    tree = open_tree(_zip(source, tmp_path / "export.zip", prefix="takeout-20240401T000000Z-001/"))
    assert detect_source(tree) is SOURCE
    from_zip = parse_all(tree, NEW_YORK)
    assert _summary(from_zip) == _summary(fx)


def test_detect_needs_known_files() -> None:
    assert SOURCE.detect(open_tree(FIXTURE)) == 24  # the files it reads
    assert get_source("takeout") is SOURCE
    wearipedia_like = Path(__file__).parents[2] / "fixtures" / "wearipedia"
    if wearipedia_like.exists():
        assert SOURCE.detect(open_tree(wearipedia_like)) == 0


@pytest.mark.parametrize("folder", ["", "Physical Activity/", "user-site-export/"])
def test_a_file_on_its_own_or_in_an_older_export_folder_is_recognised(tmp_path: Path, folder: str) -> None:
    source = FIXTURE_FITBIT / "Global Export Data" / "steps-2024-03-10.json"
    (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(source, tmp_path / folder / source.name)
    tree = open_tree(tmp_path / source.name if not folder else tmp_path)
    assert detect_source(tree) is SOURCE
    pf = SOURCE.parse(tree, folder + source.name, ParseContext(NEW_YORK))
    assert count({"f": pf}, "steps") == 3


def _one_file_tree(tmp_path: Path, relative: str, content: bytes) -> InputTree:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return open_tree(tmp_path)


def test_a_line_that_is_not_utf8_is_rejected_alone(tmp_path: Path) -> None:
    relative = "Oxygen Saturation (SpO2)/Minute SpO2 - 2024-03-10.csv"
    tree = _one_file_tree(
        tmp_path, relative, b"timestamp,value\n2024-03-10T05:00:01Z,9\xff\n2024-03-10T05:01:01Z,97\n"
    )
    pf = SOURCE.parse(tree, relative, ParseContext(NEW_YORK))
    assert [(r.record, r.field, r.reason) for r in pf.rejected] == [("line 2", "line", "not UTF-8 text")]
    assert samples({"f": pf}, "spo2") == {utc_us("2024-03-10T05:01:01"): 97.0}


@pytest.mark.parametrize(
    ("relative", "content", "message", "line"),
    [
        ("Global Export Data/heart_rate-2024-03-10.json", b"", "empty", None),
        (
            "Global Export Data/heart_rate-2024-03-10.json",
            b'[{\n"dateTime" : "03/10/24 05:00:01",\n"va',
            "invalid JSON",
            3,
        ),
        ("Global Export Data/steps-2024-03-10.json", b'{"dateTime": "03/10/24 05:00:01"}', "JSON array", 1),
        ("Global Export Data/sleep-2024-03-10.json", b"[\n{]\n", "invalid JSON", 2),
        (
            "Physical Activity_GoogleData/heart_rate_2024-03-10.csv",
            b"timestamp,bpm\n2024-03-10T05:00:01Z,60\n",
            "'beats per minute'",
            1,
        ),
        ("Heart Rate Variability/Daily Respiratory Rate Summary - 2024-03-10.csv", b"\n\n", "empty", None),
    ],
)
def test_whole_file_problems_raise_input_error_naming_the_file(
    tmp_path: Path, relative: str, content: bytes, message: str, line: int | None
) -> None:
    tree = _one_file_tree(tmp_path, relative, content)
    with pytest.raises(InputError, match="(?s)" + message) as info:
        SOURCE.parse(tree, relative, ParseContext(NEW_YORK))
    assert info.value.file == relative
    assert info.value.line == line


def test_a_broken_sleep_file_fails_alone(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_FITBIT / "Global Export Data", tmp_path / "Global Export Data")
    (tmp_path / "Global Export Data" / "sleep-2024-03-01.json").write_bytes(b"[{")
    tree = open_tree(tmp_path)
    ctx = ParseContext(NEW_YORK)
    with pytest.raises(InputError, match="invalid JSON"):
        SOURCE.parse(tree, "Global Export Data/sleep-2024-03-01.json", ctx)
    later = SOURCE.parse(tree, "Global Export Data/sleep-2024-03-10.json", ctx)
    assert sorted(s.log_id or "" for s in later.sleep) == ["1003", "1004"], "1003 now has no earlier owner"


def test_header_only_csv_yields_nothing(tmp_path: Path) -> None:
    relative = "Physical Activity_GoogleData/heart_rate_2024-03-10.csv"
    tree = _one_file_tree(tmp_path, relative, b"timestamp,beats per minute\n")
    pf = SOURCE.parse(tree, relative, ParseContext(NEW_YORK))
    assert (pf.batches, pf.rejected, pf.records_read) == ([], [], 0)


def _day_of_heart_rate(n: int) -> bytes:
    start = datetime(2024, 3, 9, 5, 0, 0)
    rng = random.Random(7)
    parts = []
    for i in range(n):
        stamp = (start + timedelta(seconds=i)).strftime("%m/%d/%y %H:%M:%S")
        bpm, confidence = rng.randint(45, 180), rng.randint(0, 3)
        parts.append(
            f'{{\n  "dateTime" : "{stamp}",\n  "value" : {{\n    "bpm" : {bpm},\n    "confidence" : {confidence}\n  }}\n}}'
        )
    return ("[" + ",".join(parts) + "]").encode()


def test_a_full_day_of_one_second_heart_rate_parses_exactly(tmp_path: Path) -> None:
    """JSON and CSV alike: 86,400 samples, values and spacing exact (parse speed: bench/parse_takeout.py)."""
    n = 86_400
    relative = "Global Export Data/heart_rate-2024-03-09.json"
    data = _day_of_heart_rate(n)
    tree = _one_file_tree(tmp_path, relative, data)
    csv_relative = "Physical Activity_GoogleData/heart_rate_2024-03-09.csv"
    records = json.loads(data)
    lines = ["timestamp,beats per minute"] + [
        datetime.strptime(r["dateTime"], "%m/%d/%y %H:%M:%S").strftime("%Y-%m-%dT%H:%M:%SZ")
        + f",{r['value']['bpm']}.0"
        for r in records
    ]
    (tmp_path / csv_relative).parent.mkdir(parents=True)
    (tmp_path / csv_relative).write_text("\n".join(lines) + "\n")
    ctx = ParseContext(NEW_YORK)
    for path in (relative, csv_relative):
        pf = SOURCE.parse(tree, path, ctx)
        (hr,) = pf.batches
        assert len(hr) == n and not pf.rejected
        assert hr.value.tolist() == [r["value"]["bpm"] for r in records]
        assert hr.ts[-1] - hr.ts[0] == (n - 1) * 1_000_000


def test_rejections_name_a_reason_kind_and_file(fx: dict[str, ParsedFile]) -> None:
    kinds = Counter(r.kind for pf in fx.values() for r in pf.rejected)
    assert set(kinds) <= {
        "bad_timestamp",
        "not_a_number",
        "missing_field",
        "malformed",
        "nonexistent_local_time",
        "sentinel_value",
    }
    assert all(r.file == path for path, pf in fx.items() for r in pf.rejected)


@pytest.mark.db
def test_the_fixture_export_loads_into_the_database(
    db: psycopg.Connection, fx: dict[str, ParsedFile]
) -> None:
    participant = add_participant(db, "tk-1", "takeout", timezone="America/New_York")[0]
    summary = ingest_path(
        db,
        FIXTURE,
        participant=participant,
        fmt="takeout",
        options_for=lambda source: LoadOptions(source=source),
        rules=FileRules(max_rejected_share=1.0),  # each fixture file holds its share of traps
    )
    status = Counter(f.status for f in summary.files)
    assert [f.file for f in summary.files if f.status == "failed"] == []
    assert status["unknown"] == 3, "README files are neither loaded nor reported unknown"
    stored = db.execute(
        "SELECT log_id, start_time, (SELECT count(*) FROM sleep_stages st WHERE st.session_id = s.id)"
        " FROM sleep_sessions s ORDER BY start_time"
    ).fetchall()
    assert [row[0] for row in stored] == ["1001", "1002", "1003", "1004", "9003", "9002"]
    assert {row[0]: row[2] for row in stored}["1003"] == 4
    minutes = db.execute(
        "SELECT count(*) FROM samples s JOIN metrics m ON m.id = s.metric_id WHERE m.name = 'sleep_minutes'"
    ).fetchone()
    assert minutes == (3,)
    out_of_range = sum(
        int(np.sum(~((BY_NAME[b.metric].min_value <= b.value) & (b.value <= BY_NAME[b.metric].max_value))))
        for pf in fx.values()
        for b in pf.batches
    )
    quarantined = db.execute("SELECT count(*) FROM quarantine").fetchone()
    assert quarantined == (sum(len(pf.rejected) for pf in fx.values()) + out_of_range,)


@needs_real
@pytest.mark.db
def test_the_real_export_loads_into_the_database(db: psycopg.Connection, real: dict[str, ParsedFile]) -> None:
    participant = add_participant(db, "pw3", "takeout", timezone="Asia/Bangkok")[0]
    summary = ingest_path(
        db,
        REAL,
        participant=participant,
        fmt="takeout",
        options_for=lambda source: LoadOptions(source=source),
    )
    assert [f.file for f in summary.files if f.status == "failed"] == []
    stored = db.execute("SELECT count(*), count(DISTINCT start_time) FROM sleep_sessions").fetchone()
    assert stored == (len(sessions(real)), len(sessions(real)))
    heart = db.execute(
        "SELECT count(*) FROM samples s JOIN metrics m ON m.id = s.metric_id WHERE m.name = 'heart_rate'"
    ).fetchone()
    assert heart == (len(samples(real, "heart_rate")),), "JSON and CSV copies of a sample are stored once"
