"""A corpus of bad inputs through `fitpipe ingest` on the real database. For each: exactly what was stored (metric,
instant, value), exactly what was quarantined (file, record, field, reason, raw text), the exit status and
what the output says. A bad line costs only itself; a bad file costs only itself; loading nothing is loud.
Rerunning never adds or duplicates anything.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.participants import add_participant
from fitpipe.settings import reset_settings_cache
from tests.ingest_job.exports import write_zip

pytestmark = pytest.mark.db

ZONE = "America/New_York"
Writer = Callable[[Path], object]
"""Writes one case's input under the folder it is given (what it returns is ignored)."""


def _wearipedia_hr(day: str, items: list[tuple[str, str]]) -> str:
    dataset = ", ".join(f"{{'time': '{t}', 'value': {v}}}" for t, v in items)
    return (
        f"\"[{{'activities-heart': [{{'dateTime': '{day}', 'value': {{'customHeartRateZones': [], "
        f"'heartRateZones': [], 'restingHeartRate': 58}}}}], 'activities-heart-intraday': {{'dataset': "
        f"[{dataset}], 'datasetInterval': 1, 'datasetType': 'second'}}}}]\""
    )


def wearipedia(rows: list[str], header: str = "heart_rate_day", bom: bool = False, end: str = "\n") -> Writer:
    def write(root: Path) -> None:
        text = header + "\n" + "\n".join(rows) + end
        (root / "heart_rate.csv").write_bytes(("\ufeff" if bom else "").encode() + text.encode())
        (root / "activity.csv").write_text("dateTime,value\n2024-01-01,3450\n")

    return write


def takeout(files: dict[str, bytes]) -> Writer:
    def write(root: Path) -> None:
        folder = root / "Fitbit" / "Global Export Data"
        folder.mkdir(parents=True)
        (folder / "resting_heart_rate-2024-01-01.json").write_text(
            '[{"dateTime":"01/01/24 00:00:00","value":{"date":"01/01/24","value":58.2,"error":6.8}}]'
        )
        for name, data in files.items():
            (folder / name).write_bytes(data)

    return write


def fitabase(text: bytes, name: str = "heartrate_seconds_merged.csv") -> Writer:
    def write(root: Path) -> None:
        (root / name).write_bytes(text)

    return write


def long_csv(text: str | bytes, name: str = "drop.csv") -> Writer:
    def write(root: Path) -> None:
        (root / name).write_bytes(text.encode() if isinstance(text, str) else text)

    return write


def both(*writers: Writer) -> Writer:
    def write(root: Path) -> None:
        for w in writers:
            w(root)

    return write


GOOD = [("00:00:00", "np.float64(70.0)"), ("00:00:01", "71")]
HR_JSON = (
    b'[{"dateTime":"01/01/24 05:00:00","value":{"bpm":62,"confidence":2}},'
    b'{"dateTime":"01/01/24 05:00:05","value":{"bpm":63,"confidence":2}}]'
)
FITABASE_HR = "Id,Time,Value"
LONG = "participant,metric,timestamp,value"
STEPS_0101 = ("steps", "2024-01-01 05:00:00", 3450.0)  # wearipedia activity.csv: the day's start in New York
RHR_0101 = ("resting_heart_rate", "2024-01-01 05:00:00", 58.2)  # takeout's resting_heart_rate file
HR = "heart_rate"


def hr(*points: tuple[str, float]) -> list[tuple[str, str, float]]:
    return [(HR, t, v) for t, v in points]


@dataclass
class Case:
    name: str
    write: Writer
    stored: list[tuple[str, str, float]]
    """(metric, UTC instant 'YYYY-MM-DD HH:MM:SS', value) of every stored sample, in metric and time order."""
    quarantined: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    """(file, record, field, reason, raw) of every quarantined record, in file and record order."""
    exit_code: int = 0
    output: str | None = None
    """A regex the output must match."""
    participant: str | None = "P1"
    target: str = ""
    """What to ingest, relative to the input folder ('' = the folder)."""
    env: dict[str, str] = field(default_factory=dict)


def _cut(text: str, n: int) -> str:
    return text[:n]


NUL_LINE = b"1503960366,4/12/2016 7:21:10 AM,\x00\x00\x00\r\n"


# Writers of more than one step (the others are lambdas in the cases)
def _one_folder_per_metric_at_depth(root: Path) -> None:
    (root / "MyFitbitData/Jane/user-site-export/heart_rate").mkdir(parents=True)
    (root / "MyFitbitData/Jane/user-site-export/steps").mkdir()
    (root / "MyFitbitData/Jane/user-site-export/heart_rate/heart_rate-2016-09-28.json").write_bytes(
        HR_JSON.replace(b"01/01/24", b"09/28/16")
    )
    (root / "MyFitbitData/Jane/user-site-export/steps/steps-2016-09-28.json").write_text(
        '[{"dateTime":"09/28/16 05:00:00","value":"12"}]'
    )


def _takeout_csv_with_a_blank_and_a_cut_last_line(root: Path) -> None:
    (root / "Physical Activity_GoogleData").mkdir()
    (root / "Physical Activity_GoogleData" / "heart_rate_2024-01-01.csv").write_bytes(
        b"timestamp,beats per minute\n2024-01-01T05:00:00Z,61.0\n\n2024-01-01T05:00:01Z,62.0\n2024-01-01T05:00:0"
    )


def _nested_zip_in_a_folder(root: Path) -> None:
    (root / "uploads").mkdir()
    write_zip(
        root / "uploads" / "outer.zip",
        {"inner.zip": _zip_bytes({"Takeout/Fitbit/Global Export Data/heart_rate-2024-01-01.json": HR_JSON})},
    )


def _symlink_in_the_input(root: Path) -> None:
    (root / "drop.csv").write_text(f"{LONG}\nP1,heart_rate,2024-01-01T00:00:00Z,70\n")
    (root / "link.csv").symlink_to(root / "drop.csv")


def _not_a_regular_file(root: Path) -> None:
    (root / "drop.csv").write_text(f"{LONG}\nP1,heart_rate,2024-01-01T00:00:00Z,70\n")
    os.mkfifo(root / "pipe.csv")


CASES: list[Case] = [
    # --- wearipedia: cells in Python repr, one row per day -------------------------------------------
    Case(
        "bad_date",
        wearipedia([_wearipedia_hr("2024-13-01", GOOD), _wearipedia_hr("2024-01-02", GOOD)]),
        [
            ("heart_rate", "2024-01-02 05:00:00", 70.0),
            ("heart_rate", "2024-01-02 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-02 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 2",
                "heart_rate_day.dateTime",
                "not a date (YYYY-MM-DD): '2024-13-01'",
                "2024-13-01",
            )
        ],
    ),
    Case(
        "dst_gap_nonexistent_local_time",
        wearipedia(
            [_wearipedia_hr("2024-03-10", [("01:59:59", "70"), ("02:30:00", "71"), ("03:00:00", "72")])]
        ),
        [
            ("heart_rate", "2024-03-10 06:59:59", 70.0),
            ("heart_rate", "2024-03-10 07:00:00", 72.0),
            ("resting_heart_rate", "2024-03-10 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 2, item 1",
                "heart_rate_day.time",
                "local time 2024-03-10T02:30:00 does not exist in America/New_York (clocks went forward)",
                "2024-03-10T02:30:00 heart_rate=np.float64(71.0)",
            )
        ],
    ),
    Case(
        "dst_overlap_repeated_hour",
        wearipedia(
            [_wearipedia_hr("2024-11-03", [("01:30:00", "70"), ("01:59:00", "71"), ("01:30:00", "72")])]
        ),
        [
            ("heart_rate", "2024-11-03 05:30:00", 70.0),
            ("heart_rate", "2024-11-03 05:59:00", 71.0),
            ("heart_rate", "2024-11-03 06:30:00", 72.0),
            ("resting_heart_rate", "2024-11-03 04:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
    ),
    Case(
        "nan_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "np.float64(nan)")])]),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 2, item 2",
                "value",
                "value is nan, not a finite number",
                "heart_rate at 2024-01-01T05:00:02Z: nan",
            )
        ],
    ),
    Case(
        "inf_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "np.float64(inf)")])]),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 2, item 2",
                "value",
                "value is inf, not a finite number",
                "heart_rate at 2024-01-01T05:00:02Z: inf",
            )
        ],
    ),
    Case(
        "non_numeric_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "'abc'")])]),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [("heart_rate.csv", "line 2, item 2", "heart_rate_day.value", "not a number: 'abc'", "abc")],
    ),
    Case(
        "none_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "None")])]),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [("heart_rate.csv", "line 2, item 2", "heart_rate_day.value", "no value (None)", "None")],
    ),
    Case(
        "bad_time_of_day",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("25:61:00", "70")])]),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 2, item 2",
                "heart_rate_day.time",
                "not a valid time: '25:61:00'",
                "25:61:00",
            )
        ],
    ),
    Case(
        "out_of_range_value",
        wearipedia([_wearipedia_hr("2024-01-01", [*GOOD, ("00:00:02", "400")])]),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 2, item 2",
                "value",
                "400 bpm is outside the valid range 25..250 of heart_rate",
                "heart_rate at 2024-01-01T05:00:02Z: 400.0",
            )
        ],
    ),
    Case(
        "out_of_order_timestamps",
        wearipedia(
            [_wearipedia_hr("2024-01-01", [("00:00:05", "70"), ("00:00:01", "71"), ("00:00:03", "72")])]
        ),
        [
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("heart_rate", "2024-01-01 05:00:03", 72.0),
            ("heart_rate", "2024-01-01 05:00:05", 70.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
    ),
    Case(
        "duplicate_timestamps",
        wearipedia(
            [_wearipedia_hr("2024-01-01", [("00:00:01", "70"), ("00:00:01", "75"), ("00:00:02", "72")])]
        ),
        [
            ("heart_rate", "2024-01-01 05:00:01", 75.0),
            ("heart_rate", "2024-01-01 05:00:02", 72.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
    ),
    Case(
        "truncated_row_in_the_middle",
        wearipedia(
            [
                _wearipedia_hr("2024-01-01", GOOD),
                _cut(_wearipedia_hr("2024-01-02", GOOD), 120),
                _wearipedia_hr("2024-01-03", GOOD),
            ]
        ),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("heart_rate", "2024-01-03 05:00:00", 70.0),
            ("heart_rate", "2024-01-03 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("resting_heart_rate", "2024-01-03 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 3",
                "line",
                "not a CSV line (unexpected end of data): quotes do not pair up",
                "\"[{'activities-heart': [{'dateTime': '2024-01-02', 'value': {'customHeartRateZones': [], 'heartRateZones': [], 'restingH",
            )
        ],
    ),
    Case(
        "truncated_last_line_without_newline",
        wearipedia(
            [_wearipedia_hr("2024-01-01", GOOD), _cut(_wearipedia_hr("2024-01-02", GOOD), 200)], end=""
        ),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        [
            (
                "heart_rate.csv",
                "line 3",
                "heart_rate_day",
                "the 'dataset' list is not closed: the row is cut off (the file ends inside this line; copy the file again)",
                "[{'activities-heart': [{'dateTime': '2024-01-02', 'value': {'customHeartRateZones': [], 'heartRateZones': [], 'restingHeartRate': 58}}], 'activities-heart-intraday': {'dataset': [{'time': '00:00:00',",
            )
        ],
    ),
    Case(
        "byte_order_mark",
        wearipedia([_wearipedia_hr("2024-01-01", GOOD)], bom=True),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
    ),
    Case(
        "wrong_header",
        wearipedia([_wearipedia_hr("2024-01-01", GOOD)], header="heartbeat"),
        [("steps", "2024-01-01 05:00:00", 3450.0)],
        exit_code=6,
        output="FAILED heart_rate\\.csv: .*lacks 'heart_rate_day'.*a wearipedia heart_rate file",
    ),
    Case(
        "empty_file",
        both(wearipedia([]), lambda root: (root / "heart_rate.csv").write_bytes(b"")),
        [("steps", "2024-01-01 05:00:00", 3450.0)],
        exit_code=6,
        output="FAILED heart_rate\\.csv: .*empty file",
    ),
    Case(
        "negative_steps",
        lambda root: (root / "activity.csv").write_text("dateTime,value\n2024-01-01,-5\n2024-01-02,100\n"),
        [("steps", "2024-01-02 05:00:00", 100.0)],
        [
            (
                "activity.csv",
                "line 2",
                "value",
                "-5 steps is outside the valid range 0..100000 of steps",
                "steps at 2024-01-01T05:00:00Z: -5.0",
            )
        ],
    ),
    # --- Google Takeout / Fitbit export --------------------------------------------------------------------
    Case(
        "invalid_json",
        takeout(
            {
                "heart_rate-2024-01-01.json": b'[{"dateTime":"01/01/24 05:00:00","value":{"bpm"',
                "heart_rate-2024-01-02.json": HR_JSON.replace(b"01/01/24", b"01/02/24"),
            }
        ),
        [
            ("heart_rate", "2024-01-02 05:00:00", 62.0),
            ("heart_rate", "2024-01-02 05:00:05", 63.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.2),
        ],
        exit_code=6,
        output="FAILED Fitbit/Global Export Data/heart_rate-2024-01-01\\.json: .*invalid JSON",
    ),
    Case(
        "not_utf8_json",
        takeout({"heart_rate-2024-01-01.json": HR_JSON.replace(b"bpm", b"b\xe9m")}),
        [("resting_heart_rate", "2024-01-01 05:00:00", 58.2)],
        exit_code=6,
        output="FAILED Fitbit/Global Export Data/heart_rate-2024-01-01\\.json: .*not UTF-8",
    ),
    Case(
        "takeout_missing_field",
        takeout({"heart_rate-2024-01-01.json": HR_JSON.replace(b'"bpm":63,', b"")}),
        [("heart_rate", "2024-01-01 05:00:00", 62.0), ("resting_heart_rate", "2024-01-01 05:00:00", 58.2)],
        [
            (
                "Fitbit/Global Export Data/heart_rate-2024-01-01.json",
                "record 1",
                "value.bpm",
                "value.bpm is missing",
                '{"dateTime":"01/01/24 05:00:05","value":{"confidence":2}}',
            )
        ],
    ),
    Case(
        "two_digit_year_99",
        takeout({"heart_rate-2024-01-01.json": HR_JSON.replace(b"01/01/24 05:00:05", b"12/31/99 23:59:59")}),
        [("heart_rate", "2024-01-01 05:00:00", 62.0), ("resting_heart_rate", "2024-01-01 05:00:00", 58.2)],
        [
            (
                "Fitbit/Global Export Data/heart_rate-2024-01-01.json",
                "record 1",
                "dateTime",
                "1999-12-31T23:59:59Z is outside the plausible time window, from 2000-01-01 to 24 h after now (FITPIPE_INGEST_PLAUSIBLE_START, FITPIPE_INGEST_PLAUSIBLE_FUTURE_HOURS)",
                "heart_rate at 1999-12-31T23:59:59Z: 63.0",
            )
        ],
        output="files: 2 loaded",
    ),
    Case(
        "one_folder_per_metric_at_depth",
        _one_folder_per_metric_at_depth,
        [
            ("heart_rate", "2016-09-28 05:00:00", 62.0),
            ("heart_rate", "2016-09-28 05:00:05", 63.0),
            ("steps", "2016-09-28 05:00:00", 12.0),
        ],
    ),
    Case(
        "takeout_csv_with_a_blank_and_a_cut_last_line",
        _takeout_csv_with_a_blank_and_a_cut_last_line,
        [("heart_rate", "2024-01-01 05:00:00", 61.0), ("heart_rate", "2024-01-01 05:00:01", 62.0)],
        [
            (
                "Physical Activity_GoogleData/heart_rate_2024-01-01.csv",
                "line 5",
                "line",
                "1 comma-separated fields, the header has 2 (the file ends inside this line: it may be cut off)",
                "2024-01-01T05:00:0",
            )
        ],
    ),
    # --- Fitabase --------------------------------------------------------------------------------------------
    Case(
        "wrong_delimiter",
        fitabase(b"Id;Time;Value\n1503960366;1/1/2024 12:00:00 AM;70\n"),
        [],
        exit_code=6,
        participant="1503960366",
        output="nothing was loaded:.*heartrate_seconds_merged\\.csv: failed: .*lacks 'Id', 'Time', 'Value'",
    ),
    Case(
        "crlf_line_endings",
        fitabase(
            b"Id,Time,Value\r\n1503960366,1/1/2024 12:00:00 AM,70\r\n1503960366,1/1/2024 12:00:05 AM,71\r\n"
        ),
        [("heart_rate", "2024-01-01 05:00:00", 70.0), ("heart_rate", "2024-01-01 05:00:05", 71.0)],
        participant="1503960366",
    ),
    Case(
        "blank_lines_anywhere_and_crlf_crlf_at_the_end",
        fitabase(
            b"Id,Time,Value\r\n\r\n1503960366,1/1/2024 12:00:00 AM,70\r\n   \r\n"
            b"1503960366,1/1/2024 12:00:05 AM,71\r\n\r\n"
        ),
        [("heart_rate", "2024-01-01 05:00:00", 70.0), ("heart_rate", "2024-01-01 05:00:05", 71.0)],
        participant="1503960366",
    ),
    Case(
        "mixed_line_endings",
        fitabase(
            b"Id,Time,Value\n1503960366,1/1/2024 12:00:00 AM,70\r\n1503960366,1/1/2024 12:00:05 AM,71\n"
        ),
        [("heart_rate", "2024-01-01 05:00:00", 70.0), ("heart_rate", "2024-01-01 05:00:05", 71.0)],
        participant="1503960366",
    ),
    Case(
        "carriage_return_inside_a_line",
        fitabase(
            b"Id,Time,Value\r\n1503960366,1/1/2024 12:00:00 AM,7\r0\r\n1503960366,1/1/2024 12:00:05 AM,71\r\n"
        ),
        [("heart_rate", "2024-01-01 05:00:05", 71.0)],
        [
            (
                "heartrate_seconds_merged.csv",
                "line 2",
                "line",
                "carriage return inside the line",
                "1503960366,1/1/2024 12:00:00 AM,7\r0",
            )
        ],
        participant="1503960366",
    ),
    Case(
        "trailing_separators_and_spaces",
        fitabase(
            b"Id,Time,Value\n1503960366,1/1/2024 12:00:00 AM,70,\n1503960366,1/1/2024 12:00:05 AM , 71 ,,\n"
        ),
        [("heart_rate", "2024-01-01 05:00:00", 70.0), ("heart_rate", "2024-01-01 05:00:05", 71.0)],
        participant="1503960366",
    ),
    Case(
        "header_repeated_inside_the_file",
        fitabase(
            b"Id,Time,Value\n1503960366,1/1/2024 12:00:00 AM,70\n\xef\xbb\xbfId,Time,Value\n"
            b"Id,Time,Value\n1503960366,1/1/2024 12:00:05 AM,71\n"
        ),
        [("heart_rate", "2024-01-01 05:00:00", 70.0), ("heart_rate", "2024-01-01 05:00:05", 71.0)],
        participant="1503960366",
    ),
    Case(
        "nul_bytes_in_a_line",
        fitabase(
            b"Id,Time,Value\r\n1503960366,1/1/2024 12:00:00 AM,70\r\n"
            + NUL_LINE
            + b"1503960366,1/1/2024 12:00:05 AM,71\r\n"
        ),
        [("heart_rate", "2024-01-01 05:00:00", 70.0), ("heart_rate", "2024-01-01 05:00:05", 71.0)],
        [
            (
                "heartrate_seconds_merged.csv",
                "line 3",
                "line",
                "NUL bytes in the line",
                "1503960366,4/12/2016 7:21:10 AM,\\x00\\x00\\x00",
            )
        ],
        participant="1503960366",
    ),
    Case(
        "excel_quoted_fields",
        fitabase(b'"Id","Time","Value"\r\n"1503960366","1/1/2024 12:00:00 AM","70"\r\n'),
        [("heart_rate", "2024-01-01 05:00:00", 70.0)],
        participant="1503960366",
    ),
    Case(
        "utf16_file",
        fitabase("Id,Time,Value\r\n1503960366,1/1/2024 12:00:00 AM,70\r\n".encode("utf-16")),
        [],
        exit_code=6,
        participant="1503960366",
        output="nothing was loaded:.*heartrate_seconds_merged\\.csv: failed: .*UTF-16 text, not UTF-8",
    ),
    Case(
        "unknown_participant_in_file",
        fitabase(b"Id,Time,Value\nP999,1/1/2024 12:00:00 AM,70\n"),
        [],
        exit_code=6,
        participant=None,
        output="unknown participant\\(s\\) P999 in study s1",
    ),
    Case(
        "no_row_of_the_participant",
        fitabase(
            b"Id,Time,Value\r\n2022484408,1/1/2024 12:00:00 AM,70\r\n2022484408,1/1/2024 12:00:05 AM,71\r\n"
        ),
        [],
        exit_code=6,
        participant="1503960366",
        output="nothing was loaded:.*none of its 2 rows is participant 1503960366's \\(it holds 2022484408\\)",
    ),
    Case(
        "rejected_share_above_the_threshold",
        fitabase(
            b"Id,Time,Value\n"
            + b"".join(b"1503960366,2024-01-01 00:00:%02d,70\n" % s for s in range(9))
            + b"1503960366,1/1/2024 12:00:10 AM,71\n"
        ),
        [],
        exit_code=6,
        participant="1503960366",
        output="FAILED heartrate_seconds_merged\\.csv: 9 of 10 records rejected \\(90%\\), more than the 5% allowed .*First: line 2, Time: '2024-01-01 00:00:00' is not a M/D/YYYY h:mm:ss AM/PM time",
    ),
    Case(
        "daily_value_at_a_midnight_that_does_not_exist",
        fitabase(
            b"Id,ActivityDate,TotalSteps,TotalDistance,VeryActiveMinutes,FairlyActiveMinutes,LightlyActiveMinutes,"
            b"SedentaryMinutes,Calories\r\n4020332650,9/8/2024,8000,5.5,10,20,200,700,2000\r\n",
            "dailyActivity_merged.csv",
        ),
        [
            ("calories", "2024-09-08 04:00:00", 2000.0),
            ("distance", "2024-09-08 04:00:00", 5500.0),
            ("lightly_active_minutes", "2024-09-08 04:00:00", 200.0),
            ("moderately_active_minutes", "2024-09-08 04:00:00", 20.0),
            ("sedentary_minutes", "2024-09-08 04:00:00", 700.0),
            ("steps", "2024-09-08 04:00:00", 8000.0),
            ("very_active_minutes", "2024-09-08 04:00:00", 10.0),
        ],
        participant="4020332650",
    ),
    # --- long CSV ---------------------------------------------------------------------------------------------
    Case(
        "a_200_kib_field",
        long_csv(
            f"{LONG}\nP1,heart_rate,2024-01-01T00:00:00Z,70\nP1,heart_rate,2024-01-01T00:00:01Z,{'9' * 204_800}x\n"
        ),
        [("heart_rate", "2024-01-01 00:00:00", 70.0)],
        [
            (
                "drop.csv",
                "line 3",
                "value",
                "'9999999999999999999999999999999999999999' is not a number",
                "P1,heart_rate,2024-01-01T00:00:01Z,99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
            )
        ],
    ),
    Case(
        "quoted_field_with_a_comma",
        long_csv(
            f'{LONG},note\nP1,heart_rate,2024-01-01T00:00:00Z,70,"walk, then run"\nP1,heart_rate,2024-01-01T00:00:01Z,71,"a ""quote"""\n'
        ),
        [("heart_rate", "2024-01-01 00:00:00", 70.0), ("heart_rate", "2024-01-01 00:00:01", 71.0)],
    ),
    Case(
        "far_past_and_far_future_years",
        long_csv(
            f"{LONG}\nP1,heart_rate,2024-01-01T00:00:00Z,70\nP1,heart_rate,0001-01-01T00:00:00Z,71\n"
            "P1,heart_rate,1700-06-01T00:00:00Z,72\nP1,heart_rate,2200-01-01T00:00:00Z,73\nP1,heart_rate,9999-12-31T23:59:59Z,74\n"
            + "".join(
                f"P1,heart_rate,2024-01-01T00:{1 + s // 60:02d}:{s % 60:02d}Z,{60 + s % 90}\n"
                for s in range(80)
            )
        ),
        [
            *hr(("2024-01-01 00:00:00", 70.0)),
            *hr(*[(f"2024-01-01 00:{1 + s // 60:02d}:{s % 60:02d}", float(60 + s % 90)) for s in range(80)]),
        ],
        [
            (
                "drop.csv",
                "line 3",
                "timestamp",
                "0001-01-01T00:00:00Z is outside the plausible time window, from 2000-01-01 to 24 h after now (FITPIPE_INGEST_PLAUSIBLE_START, FITPIPE_INGEST_PLAUSIBLE_FUTURE_HOURS)",
                "heart_rate at 0001-01-01T00:00:00Z: 71.0",
            ),
            (
                "drop.csv",
                "line 4",
                "timestamp",
                "1700-06-01T00:00:00Z is outside the plausible time window, from 2000-01-01 to 24 h after now (FITPIPE_INGEST_PLAUSIBLE_START, FITPIPE_INGEST_PLAUSIBLE_FUTURE_HOURS)",
                "heart_rate at 1700-06-01T00:00:00Z: 72.0",
            ),
            (
                "drop.csv",
                "line 5",
                "timestamp",
                "2200-01-01T00:00:00Z is outside the plausible time window, from 2000-01-01 to 24 h after now (FITPIPE_INGEST_PLAUSIBLE_START, FITPIPE_INGEST_PLAUSIBLE_FUTURE_HOURS)",
                "heart_rate at 2200-01-01T00:00:00Z: 73.0",
            ),
            (
                "drop.csv",
                "line 6",
                "timestamp",
                "9999-12-31T23:59:59Z is outside the plausible time window, from 2000-01-01 to 24 h after now (FITPIPE_INGEST_PLAUSIBLE_START, FITPIPE_INGEST_PLAUSIBLE_FUTURE_HOURS)",
                "heart_rate at 9999-12-31T23:59:59Z: 74.0",
            ),
        ],
    ),
    # --- the input as a whole --------------------------------------------------------------------------------
    Case(
        "unknown_extra_file",
        both(
            wearipedia([_wearipedia_hr("2024-01-01", GOOD)]),
            lambda root: (root / "notes.txt").write_text("hi"),
        ),
        [
            ("heart_rate", "2024-01-01 05:00:00", 70.0),
            ("heart_rate", "2024-01-01 05:00:01", 71.0),
            ("resting_heart_rate", "2024-01-01 05:00:00", 58.0),
            ("steps", "2024-01-01 05:00:00", 3450.0),
        ],
        output="not known, skipped: notes\\.txt \\(text starting 'hi', 2 bytes\\)",
    ),
    Case(
        "only_files_nobody_reads",
        lambda root: ((root / "notes.txt").write_text("hi"), (root / "data.json").write_text('[{"a": 1}]')),
        [],
        exit_code=6,
        output="nothing was loaded:.*data\\.json: not a file fitpipe reads \\(a JSON array of 1 records with keys a, 10 bytes\\).*notes\\.txt: not a file fitpipe reads \\(text starting 'hi', 2 bytes\\)",
    ),
    Case(
        "corrupt_zip",
        lambda root: (root / "export.zip").write_bytes(b"PK\x03\x04 not really a zip"),
        [],
        exit_code=6,
        target="export.zip",
        output="export\\.zip: not a readable \\.zip archive",
    ),
    Case(
        "zip_member_paths_with_dotdot_and_absolute",
        lambda root: write_zip(
            root / "drop.zip",
            {
                "drop.csv": f"{LONG}\nP1,heart_rate,2024-01-01T00:00:00Z,70\n".encode(),
                "../../evil.csv": b"x",
                "/etc/evil.csv": b"x",
            },
        ),
        [("heart_rate", "2024-01-01 00:00:00", 70.0)],
        target="drop.zip",
        output="not read: \\.\\./\\.\\./evil\\.csv: an unsafe path in the archive.*not read: /etc/evil\\.csv: an unsafe path",
    ),
    Case(
        "nested_zip_in_a_folder",
        _nested_zip_in_a_folder,
        [("heart_rate", "2024-01-01 05:00:00", 62.0), ("heart_rate", "2024-01-01 05:00:05", 63.0)],
        output="loaded +uploads/outer\\.zip/inner\\.zip/Takeout/Fitbit/Global Export Data/heart_rate-2024-01-01\\.json",
    ),
    Case(
        "symlink_in_the_input",
        _symlink_in_the_input,
        [("heart_rate", "2024-01-01 00:00:00", 70.0)],
        output="not read: link\\.csv: a symbolic link \\(to .*drop\\.csv\\): not followed",
    ),
    Case(
        "archive_nested_too_deep",
        lambda root: write_zip(
            root / "a.zip",
            {
                "b.zip": _zip_bytes({"c.zip": _zip_bytes({"d.zip": _zip_bytes({"drop.csv": b"x"})})}),
                "drop.csv": f"{LONG}\nP1,heart_rate,2024-01-01T00:00:00Z,70\n".encode(),
            },
        ),
        [("heart_rate", "2024-01-01 00:00:00", 70.0)],
        output="not read: a\\.zip/b\\.zip/c\\.zip/d\\.zip: an archive nested more than 3 deep",
    ),
    Case(
        "not_a_regular_file",
        _not_a_regular_file,
        [("heart_rate", "2024-01-01 00:00:00", 70.0)],
        output="not read: pipe\\.csv: not a regular file",
    ),
    Case(
        "file_over_the_size_limit",
        both(
            long_csv(f"{LONG}\nP1,heart_rate,2024-01-01T00:00:00Z,70\n"),
            long_csv(f"{LONG}\n" + "P1,heart_rate,2024-01-01T00:00:01Z,71\n" * 40, "big.csv"),
        ),
        [("heart_rate", "2024-01-01 00:00:00", 70.0)],
        env={"FITPIPE_INGEST_MAX_FILE_BYTES": "1000"},
        output="not read: big\\.csv: 1,555 bytes, more than the limit of 1,000 \\(FITPIPE_INGEST_MAX_FILE_BYTES\\)",
    ),
]


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def env(fitpipe_env: Path, database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        add_participant(conn, "P1", "s1", timezone=ZONE)
        add_participant(conn, "1503960366", "s1", timezone=ZONE)
        add_participant(conn, "4020332650", "s1", timezone="America/Santiago")
    return database_url


def _state(url: str) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, str, str, str]]]:
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            """SELECT m.name, to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), s.value
               FROM samples s JOIN metrics m ON m.id = s.metric_id ORDER BY m.name, s.ts"""
        ).fetchall()
        quarantined = conn.execute(
            """SELECT file, record, field, reason, raw FROM quarantine
               ORDER BY file, substring(record from '[0-9]+')::int, record, field"""
        ).fetchall()
    return [tuple(r) for r in stored], [tuple(r) for r in quarantined]


def _ingest(case: Case, root: Path, full: bool = False) -> tuple[int, str]:
    args = ["ingest", str(root / case.target), "--study", "s1", "--timezone", ZONE]
    if case.participant:
        args += ["--participant", case.participant]
    if full:
        args.append("--full")
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_stores_exactly_the_good_records_and_quarantines_exactly_the_bad_ones(
    case: Case, env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    root = tmp_path / "input"
    root.mkdir()
    case.write(root)
    code, out = _ingest(case, root)
    assert code == case.exit_code, out
    assert "Traceback" not in out
    if case.output:
        assert re.search(case.output, out, re.S), out
    stored, quarantined = _state(env)
    assert stored == case.stored, out
    assert quarantined == case.quarantined, out
    again, out = _ingest(case, root, full=True)
    assert again == code, out
    assert _state(env) == (stored, quarantined), "a rerun must not add or duplicate anything"


def test_the_corpus_covers_at_least_forty_kinds_of_bad_input() -> None:
    assert len({c.name for c in CASES}) == len(CASES) >= 40


def test_zip_of_a_takeout_export_loads_like_the_directory(env: str, tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    takeout({"heart_rate-2024-01-01.json": HR_JSON})(root)
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in root.rglob("*"):
            if path.is_file():
                zf.write(path, "Takeout/" + path.relative_to(root).as_posix())
    result = CliRunner().invoke(cli, ["ingest", str(archive), "--participant", "P1"])
    assert result.exit_code == 0, result.output
    assert _state(env)[0] == [*hr(("2024-01-01 05:00:00", 62.0), ("2024-01-01 05:00:05", 63.0)), RHR_0101]
