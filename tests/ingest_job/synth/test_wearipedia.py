"""The wearipedia CSVs: the challenge's headers, Python-repr cells, every worn second in floating local time."""

from __future__ import annotations

import ast
import csv
import re
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fitpipe_ingest.synth.cohort import CohortResult
from fitpipe_ingest.synth.participant import plan_participant
from fitpipe_ingest.synth.writers.wearipedia import FILES

from .conftest import REAL_WEARIPEDIA, write

csv.field_size_limit(sys.maxsize)
TIME = re.compile(r"'time': '(\d\d:\d\d:\d\d)'")


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _literal(cell: str) -> Any:
    """What the challenge's readers do: drop the numpy wrappers, then read the Python literal."""
    return ast.literal_eval(re.sub(r"np\.(?:float64|int64)\(([^)]*)\)", r"\1", cell))


def test_six_files_with_the_challenge_headers(wearipedia: tuple[Path, CohortResult]) -> None:
    out, _ = wearipedia
    assert sorted(p.name for p in (out / "P0001").iterdir()) == sorted(FILES)
    for name, header in FILES.items():
        raw = (out / "P0001" / name).read_bytes()
        assert raw.startswith(header.encode() + b"\n") and raw.endswith(b"\n") and b"\r" not in raw
        assert len(_rows(out / "P0001" / name)) == 1 + 3  # one row per day
        if REAL_WEARIPEDIA.exists():
            assert (REAL_WEARIPEDIA / name).read_bytes().split(b"\n")[0] == header.encode()


def _shapes(path: Path) -> set[str]:
    """The distinct record shapes of a file: numbers as N, one entry per list item."""
    return set(re.split(r", (?=\{)|\n", re.sub(r"\d+(\.\d+)?", "N", path.read_text())))


# shapes the trimmed real sample lacks only because of what it holds: empty days and the other zones
KNOWN_EXTRA_SHAPES = {
    "[]",
    "N-N-N,[]",
    "{'minute': 'N:N:N', 'value': {'cardioActiveZoneMinutes': N, 'activeZoneMinutes': N}}",
    "{'minute': 'N:N:N', 'value': {'peakActiveZoneMinutes': N, 'activeZoneMinutes': N}}",
}


@pytest.mark.skipif(
    not REAL_WEARIPEDIA.exists(),
    reason=f"the wearipedia sample is not at {REAL_WEARIPEDIA} (set FITPIPE_SHARED_DATA)",
)
def test_every_record_shape_is_one_the_real_generator_writes(wearipedia: tuple[Path, CohortResult]) -> None:
    out, _ = wearipedia
    for name in FILES:
        extra = _shapes(out / "P0001" / name) - _shapes(REAL_WEARIPEDIA / name)
        assert extra <= KNOWN_EXTRA_SHAPES, name


def test_cells_are_python_literals_with_numpy_wrappers(wearipedia: tuple[Path, CohortResult]) -> None:
    out, _ = wearipedia
    folder = out / "P0001"
    for name in ("hrv.csv", "breathing_rate.csv", "active_zone_minutes.csv"):
        for (cell,) in _rows(folder / name)[1:]:
            value = _literal(cell)
            assert isinstance(value, list)
    hrv = [_literal(c) for (c,) in _rows(folder / "hrv.csv")[1:]]
    night = next(v for v in hrv if v)[0]
    assert list(night) == ["minutes", "dateTime"]
    assert list(night["minutes"][0]["value"]) == ["rmssd", "coverage", "hf", "lf"]
    assert "np.float64(" in (folder / "breathing_rate.csv").read_text()
    for day, cell in _rows(folder / "spo2.csv")[1:]:
        date.fromisoformat(day)
        assert isinstance(_literal(cell), list)
    spo2 = (folder / "spo2.csv").read_text()
    assert (
        re.search(r"'value': \d+, ", spo2) and "'value': np.float64(" in spo2
    )  # whole numbers are plain ints
    for (cell,) in _rows(folder / "heart_rate.csv")[1:]:
        head = _literal(re.sub(r"'dataset': \[.*?\]", "'dataset': []", cell))
        day = head[0]["activities-heart"][0]
        assert [z["name"] for z in day["value"]["heartRateZones"]] == [
            "Out of Range",
            "Fat Burn",
            "Cardio",
            "Peak",
        ]
        assert head[0]["activities-heart-intraday"]["datasetInterval"] == 1
        assert re.search(r"'value': np\.float64\(\d+\.\d+\)\}", cell)


def test_heart_rate_holds_every_worn_second_and_nothing_else(wearipedia: tuple[Path, CohortResult]) -> None:
    out, result = wearipedia
    for profile in (p for p in result.profiles if p.has_data):
        plan = plan_participant(profile)
        zone = ZoneInfo(profile.timezone)
        for i, (cell,) in enumerate(_rows(out / profile.participant_id / "heart_rate.csv")[1:]):
            on = profile.start + timedelta(days=i)
            begin = int(datetime(on.year, on.month, on.day, tzinfo=zone).timestamp())
            unworn: set[int] = set()
            for s, e in plan.nonwear:
                unworn.update(range(max(s, begin), min(e, begin + 86_400)))
            times = TIME.findall(cell)
            assert len(times) == 86_400 - len(unworn), f"{profile.participant_id} day {on}"
            assert times == sorted(times) and len(set(times)) == len(times)
            # a non-worn second is missing: check one
            if unworn:
                t = datetime.fromtimestamp(min(unworn), zone).strftime("%H:%M:%S")
                assert t not in set(times)


@pytest.mark.parametrize(
    ("start", "first_hour_count", "skipped"), [(date(2024, 11, 3), 7200, 0), (date(2024, 3, 10), 3600, 3600)]
)
def test_clock_changes_repeat_or_skip_an_hour_of_local_times(
    tmp_path: Path, start: date, first_hour_count: int, skipped: int
) -> None:
    result = write(
        tmp_path,
        participants=1,
        days=1,
        start=start,
        format="wearipedia",
        kinds=("excellent",),
        zones=("America/New_York",),
    )
    (cell,) = _rows(tmp_path / "P0001" / "heart_rate.csv")[1]
    times = TIME.findall(cell)
    plan = plan_participant(result.profiles[0])
    # local 01:00 starts one hour after local midnight; it lasts two hours when clocks go back
    one_am = range(plan.begin + 3600, plan.begin + 3600 + first_hour_count)
    worn = sum(1 for t in one_am if not any(s <= t < e for s, e in plan.nonwear))
    assert worn > 0
    assert sum(t.startswith("01:") for t in times) == worn
    assert (sum(t.startswith("02:") for t in times) == 0) == (skipped == 3600)


def test_hrv_keeps_the_night_start_date_after_midnight_but_spo2_rolls_over(
    wearipedia: tuple[Path, CohortResult],
) -> None:
    out, _ = wearipedia
    checked = 0
    for (hrv_cell,), (day, spo2_cell) in zip(
        _rows(out / "P0001" / "hrv.csv")[1:], _rows(out / "P0001" / "spo2.csv")[1:], strict=True
    ):
        if hrv_cell == "[]":
            assert spo2_cell == "[]"
            continue
        hrv_minutes = [m["minute"] for m in _literal(hrv_cell)[0]["minutes"]]
        spo2_minutes = [m["minute"] for m in _literal(spo2_cell)]
        assert {m[:10] for m in hrv_minutes} == {day}
        assert [m[11:19] for m in hrv_minutes] == [m[11:] for m in spo2_minutes]
        if spo2_minutes[-1][:10] != day:
            checked += 1
            assert hrv_minutes[-1] < hrv_minutes[0]  # the bug: times go backwards within the row
    assert checked, "no night crossed midnight in this cohort"
