"""The Fitabase source: exports of many participants, read against independent computations of the fixtures.

Fixtures under tests/fixtures/fitabase/ are hand-written; the comments in them say what each part tests.
"""

from __future__ import annotations

import csv
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from fitpipe.errors import InputError
from fitpipe.localtime import US_PER_SECOND, datetime_to_us
from fitpipe.participants import add_participant
from fitpipe_ingest.load import LoadOptions
from fitpipe_ingest.pipeline.files import ingest_path
from fitpipe_ingest.records import ParseContext, ParsedFile, SampleBatch
from fitpipe_ingest.sources.fitabase import SOURCE
from fitpipe_ingest.sources.registry import detect_source, get_source
from fitpipe_ingest.tree import InputTree, open_tree
from tests.shared_data import shared

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fitabase"
NEW_YORK = ZoneInfo("America/New_York")
SHARED = shared()


def parse(where: Path, name: str, *, zone: ZoneInfo = NEW_YORK, participant: str | None = None) -> ParsedFile:
    tree = open_tree(where)
    try:
        return SOURCE.parse(tree, name, ParseContext(timezone=zone, participant=participant))
    finally:
        tree.close()


def by_participant(parsed: ParsedFile, metric: str) -> dict[str, SampleBatch]:
    batches = [b for b in parsed.batches if b.metric == metric]
    assert len({b.participant for b in batches}) == len(batches), "one batch per participant and metric"
    return {str(b.participant): b for b in batches}


def read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each data row, read with the csv module."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [(n, row) for n, row in enumerate(csv.reader(fh), start=1) if n > 1]


def local_us(text: str, zone: ZoneInfo = NEW_YORK, fmt: str = "%m/%d/%Y %I:%M:%S %p") -> int:
    return datetime_to_us(datetime.strptime(text, fmt).replace(tzinfo=zone))


def rejected_lines(parsed: ParsedFile) -> dict[str, tuple[str, str, str]]:
    return {r.record: (r.field, r.reason, r.raw) for r in parsed.rejected}


# ------------------------------------------------------------------------------------ time series


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("heartrate_seconds_merged.csv", "heart_rate"),
        ("minuteStepsNarrow_merged.csv", "steps"),
        ("minuteCaloriesNarrow_merged.csv", "calories"),
    ],
)
def test_series_match_an_independent_reading_of_the_file(name: str, metric: str) -> None:
    parsed = parse(FIXTURES / "export", name)
    expected: dict[str, list[tuple[int, int, float]]] = {}
    for line, (pid, when, value) in read_rows(FIXTURES / "export" / name):
        expected.setdefault(pid, []).append((line, local_us(when), float(value)))
    got = by_participant(parsed, metric)
    assert sorted(got) == sorted(expected)
    for pid, rows in expected.items():
        batch = got[pid]
        assert batch.line is not None
        assert batch.line.tolist() == [r[0] for r in rows]
        assert batch.ts.tolist() == [r[1] for r in rows]
        assert batch.value.tolist() == [r[2] for r in rows]
    assert parsed.rejected == []
    assert parsed.records_read == sum(len(r) for r in expected.values())


def test_twelve_oclock_am_is_midnight_and_pm_is_noon() -> None:
    hr = by_participant(parse(FIXTURES / "export", "heartrate_seconds_merged.csv"), "heart_rate")[
        "1503960366"
    ]
    assert hr.line is not None
    # 4/12/2016 is daylight time in New York: UTC-4
    as_utc = {
        int(line): datetime.fromtimestamp(int(ts) / US_PER_SECOND, UTC)
        for line, ts in zip(hr.line, hr.ts, strict=True)
    }
    assert as_utc[2] == datetime(2016, 4, 12, 4, 0, 5, tzinfo=UTC)  # 12:00:05 AM
    assert as_utc[3] == datetime(2016, 4, 12, 4, 59, 59, tzinfo=UTC)  # 12:59:59 AM
    assert as_utc[5] == datetime(2016, 4, 12, 15, 59, 59, tzinfo=UTC)  # 11:59:59 AM
    assert as_utc[6] == datetime(2016, 4, 12, 16, 0, 0, tzinfo=UTC)  # 12:00:00 PM
    assert as_utc[7] == datetime(2016, 4, 12, 16, 30, 15, tzinfo=UTC)  # 12:30:15 PM
    assert as_utc[9] == datetime(2016, 4, 13, 3, 59, 59, tzinfo=UTC)  # 11:59:59 PM
    assert as_utc[10] == datetime(2016, 4, 13, 4, 0, 4, tzinfo=UTC)  # 12:00:04 AM the next day


def test_new_years_eve_rolls_into_the_next_year() -> None:
    hr = by_participant(parse(FIXTURES / "export", "heartrate_seconds_merged.csv"), "heart_rate")[
        "2022484408"
    ]
    assert hr.line is not None
    last_two = hr.ts[hr.line >= 13]
    assert np.diff(last_two).tolist() == [5 * US_PER_SECOND]  # 11:59:55 PM to 12:00:00 AM, EST


def test_two_participants_in_one_file_give_one_batch_each_with_their_id() -> None:
    parsed = parse(FIXTURES / "export", "heartrate_seconds_merged.csv")
    assert sorted((b.participant, len(b)) for b in parsed.batches) == [("1503960366", 9), ("2022484408", 4)]


def test_bom_and_crlf_read_the_same_as_plain_lf(tmp_path: Path) -> None:
    source = FIXTURES / "export" / "heartrate_seconds_merged.csv"
    raw = source.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw, "the fixture must keep its BOM and CRLF"
    (tmp_path / source.name).write_bytes(raw[3:].replace(b"\r\n", b"\n"))
    plain, crlf = parse(tmp_path, source.name), parse(FIXTURES / "export", source.name)
    assert len(plain.batches) == len(crlf.batches) == 2
    for a, b in zip(plain.batches, crlf.batches, strict=True):
        assert (a.participant, a.ts.tolist(), a.value.tolist()) == (
            b.participant,
            b.ts.tolist(),
            b.value.tolist(),
        )
        assert a.line is not None and b.line is not None and a.line.tolist() == b.line.tolist()


def test_quoted_fields_as_excel_saves_them_are_read(tmp_path: Path) -> None:
    (tmp_path / "heartrate_seconds_merged.csv").write_text(
        '"Id","Time","Value"\n"1503960366","4/12/2016 7:21:00 AM","97"\n'
    )
    batch = parse(tmp_path, "heartrate_seconds_merged.csv").batches[0]
    assert (batch.participant, batch.ts.tolist(), batch.value.tolist()) == (
        "1503960366",
        [local_us("4/12/2016 7:21:00 AM")],
        [97.0],
    )


def test_24_hour_and_minute_only_times_are_read_too(tmp_path: Path) -> None:
    (tmp_path / "minuteStepsNarrow_merged.csv").write_text(
        "Id,ActivityMinute,Steps\n1,4/12/2016 19:05:00,10\n1,4/12/2016 7:06 PM,11\n1,4/12/2016 19:07,12\n"
    )
    batch = parse(tmp_path, "minuteStepsNarrow_merged.csv").batches[0]
    assert batch.ts.tolist() == [local_us(f"4/12/2016 19:0{m}", fmt="%m/%d/%Y %H:%M") for m in (5, 6, 7)]


# ------------------------------------------------------------------------------------------- DST


def test_dst_gap_times_are_rejected_and_repeated_hour_follows_file_order() -> None:
    parsed = parse(FIXTURES / "dst", "heartrate_seconds_merged.csv")
    hr = by_participant(parsed, "heart_rate")

    def at(text: str, fold: int) -> int:
        return datetime_to_us(
            datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=NEW_YORK, fold=fold)
        )

    a = hr["1503960366"]
    assert a.line is not None
    assert dict(zip(a.line.tolist(), a.ts.tolist(), strict=True)) == {
        2: at("3/10/2024 1:59:59 AM", 0),
        5: at("3/10/2024 3:00:00 AM", 0),
        6: at("11/3/2024 1:30:00 AM", 0),  # first pass: EDT
        7: at("11/3/2024 1:45:00 AM", 0),
        8: at("11/3/2024 1:15:00 AM", 1),  # the clock went back: EST
        9: at("11/3/2024 1:45:00 AM", 1),
        10: at("11/3/2024 2:00:00 AM", 0),
    }
    assert np.all(np.diff(a.ts[a.line >= 6]) > 0), "after the clocks go back, time still moves forward"
    # the other participant's rows are resolved in their own order, not after the first one's step back
    b = hr["2022484408"]
    assert b.ts.tolist() == [at("11/3/2024 1:30:00 AM", 0), at("11/3/2024 1:05:00 AM", 1)]

    gap = {r.record: r for r in parsed.rejected}
    assert sorted(gap) == ["line 3", "line 4"]
    assert all(r.kind == "nonexistent_local_time" and r.field == "Time" for r in gap.values())
    assert "America/New_York" in gap["line 4"].reason and "2:30:00 AM" in gap["line 4"].reason
    assert gap["line 3"].raw == "1503960366,3/10/2024 2:00:00 AM,61"


def test_the_participants_zone_is_used() -> None:
    parsed = parse(FIXTURES / "dst", "heartrate_seconds_merged.csv", zone=ZoneInfo("Europe/Berlin"))
    # 3/10/2024 is before Europe's change: every line is readable in Berlin
    assert parsed.rejected == []
    a = by_participant(parsed, "heart_rate")["1503960366"]
    assert int(a.ts[0]) == local_us("3/10/2024 1:59:59 AM", ZoneInfo("Europe/Berlin"))


# ------------------------------------------------------------------------------------ bad rows


def test_bad_rows_are_quarantined_with_their_line_field_and_text() -> None:
    parsed = parse(FIXTURES / "bad", "heartrate_seconds_merged.csv")
    bad = rejected_lines(parsed)
    assert sorted(
        bad, key=lambda r: int(r.split()[1])
    ) == [  # line 4 is blank: no record, nothing to quarantine
        "line 5",
        "line 6",
        "line 7",
        "line 8",
        "line 9",
        "line 10",
        "line 11",
        "line 12",
        "line 14",
    ]
    assert bad["line 5"][0] == "line" and "2 comma-separated fields" in bad["line 5"][1]
    assert bad["line 5"][2] == "1503960366,4/12/2016 7:21:10 AM"
    assert bad["line 6"][:2] == ("Value", "'abc' is not a number")
    assert bad["line 7"][0] == "Time" and "'2016-04-12 07:21:20'" in bad["line 7"][1]
    assert bad["line 8"][0] == "line" and "4 comma-separated fields" in bad["line 8"][1]
    assert bad["line 9"][0] == "Time"  # there is no February 30th
    assert bad["line 10"][0] == "Time"  # 13 PM
    assert bad["line 11"][:2] == ("Id", "missing Id")
    assert bad["line 12"][:2] == ("Value", "missing Value")
    assert bad["line 14"] == ("Value", "'xyz' is not a number", "2022484408,4/12/2016 7:22:00 AM,xyz")
    owners = {r.record: r.participant for r in parsed.rejected}
    assert (
        owners["line 14"] == "2022484408" and owners["line 6"] == "1503960366" and owners["line 11"] is None
    )


def test_good_rows_around_bad_ones_keep_their_own_line_numbers() -> None:
    parsed = parse(FIXTURES / "bad", "heartrate_seconds_merged.csv")
    hr = by_participant(parsed, "heart_rate")
    mine = hr["1503960366"]
    assert mine.line is not None
    assert mine.line.tolist() == [2, 3, 13, 16]
    assert mine.value.tolist() == [97, 102, 99, 300]  # 300 bpm is the loader's to judge against the catalog
    assert mine.ts[3] == local_us("4/12/2016 7:21:55 AM")  # a lower-case "am"
    assert parsed.records_read == 4 + 1 + len(parsed.rejected)


def test_a_carriage_return_inside_a_line_rejects_only_that_line(tmp_path: Path) -> None:
    (tmp_path / "heartrate_seconds_merged.csv").write_bytes(
        b"Id,Time,Value\r\n1,4/12/2016 7:21:00 AM,97\r\n1,4/12/2016 7:21:05 AM,9\r8\r\n1,4/12/2016 7:21:10 AM,99\r\n"
    )
    parsed = parse(tmp_path, "heartrate_seconds_merged.csv")
    assert parsed.batches[0].line is not None and parsed.batches[0].line.tolist() == [2, 4]
    assert [(r.record, r.field) for r in parsed.rejected] == [("line 3", "line")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\r\n\r\n", "empty file"),
        (b"Id,Timestamp,Value\n1,4/12/2016 7:21:00 AM,97\n", "lacks 'Time' (expected Id,Time,Value)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image, not a CSV file"),
        (b"\x00\x01\x00Id,Time,Value\n", "binary data"),
        ("Id,Time,Value\n".encode("utf-16"), "UTF-16"),
        (b"Id;Time;Value\n1;4/12/2016 7:21:00 AM;97\n", "expected Id,Time,Value"),
    ],
)
def test_unreadable_files_raise_input_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "heartrate_seconds_merged.csv").write_bytes(content)
    with pytest.raises(InputError) as caught:
        parse(tmp_path, "heartrate_seconds_merged.csv")
    assert caught.value.file == "heartrate_seconds_merged.csv"
    assert message in str(caught.value)


def test_a_file_of_unreadable_lines_rejects_every_line_and_parses(tmp_path: Path) -> None:
    """No whole-file verdict from the source: the pipeline fails a file whose rejected share is too high."""
    (tmp_path / "heartrate_seconds_merged.csv").write_bytes(
        b"Id,Time,Value\n1,2016-04-12T07:21:00,97\n1,4/12/2016 7:21:05 AM,97,1\n"
    )
    parsed = parse(tmp_path, "heartrate_seconds_merged.csv")
    assert parsed.batches == [] and parsed.records_read == 2
    assert [(r.record, r.field, r.reason) for r in parsed.rejected] == [
        ("line 3", "line", "4 comma-separated fields, the header has 3"),
        ("line 2", "Time", "'2016-04-12T07:21:00' is not a M/D/YYYY h:mm:ss AM/PM time"),
    ]


def test_a_header_without_rows_is_an_empty_file_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "minuteSleep_merged.csv").write_bytes(b"\xef\xbb\xbfId,date,value,logId\r\n")
    parsed = parse(tmp_path, "minuteSleep_merged.csv")
    assert (parsed.batches, parsed.sleep, parsed.rejected, parsed.records_read) == ([], [], [], 0)


def test_a_file_not_of_this_source_is_refused() -> None:
    with pytest.raises(InputError, match="not a file of a Fitabase export"):
        parse(FIXTURES / "export", "hourlySteps_merged.csv")


# ------------------------------------------------------------------------------ one participant


def test_ingesting_for_one_participant_reads_only_their_rows() -> None:
    parsed = parse(FIXTURES / "bad", "heartrate_seconds_merged.csv", participant="2022484408")
    assert [(b.participant, len(b)) for b in parsed.batches] == [("2022484408", 1)]
    # their own bad row, plus the lines that name nobody (they might be theirs); never another's rows
    assert {r.participant for r in parsed.rejected} == {"2022484408", None}
    assert "line 6" not in rejected_lines(parsed)
    assert sorted(rejected_lines(parsed), key=lambda r: int(r.split()[1])) == ["line 11", "line 14"]
    assert parsed.others == {"1503960366": 9}, "the other participant's rows are counted, not read"


def test_a_participant_absent_from_the_file_gets_nothing_and_no_error() -> None:
    parsed = parse(FIXTURES / "export", "heartrate_seconds_merged.csv", participant="9999999999")
    assert (parsed.batches, parsed.rejected) == ([], [])


def test_one_participants_sleep_and_daily_rows_only() -> None:
    sleep = parse(FIXTURES / "export", "minuteSleep_merged.csv", participant="2022484408")
    assert {s.participant for s in sleep.sleep} == {"2022484408"}
    assert {b.participant for b in sleep.batches} == {"2022484408"}
    daily = parse(FIXTURES / "export", "dailyActivity_merged.csv", participant="2022484408")
    assert {b.participant for b in daily.batches} == {"2022484408"}
    assert all(len(b) == 1 for b in daily.batches)


# -------------------------------------------------------------------------------------------- sleep


def test_sleep_rows_are_grouped_by_log_into_sessions() -> None:
    parsed = parse(FIXTURES / "export", "minuteSleep_merged.csv")
    logs = {str(s.log_id): s for s in parsed.sleep}
    assert sorted(logs) == ["11380564589", "11388770032", "11396971102", "11400000001"]
    night = logs["11380564589"]
    assert night.participant == "1503960366"
    assert night.start == datetime(2016, 4, 12, 23, 55, 30, tzinfo=NEW_YORK)
    assert night.end == datetime(2016, 4, 13, 0, 9, 30, tzinfo=NEW_YORK)  # last minute + 1 minute
    assert night.local_date == date(2016, 4, 13)  # the night ends on the 13th
    # 14 distinct minutes (12:01:30 AM is written twice): 9 asleep, 2 restless, 3 awake
    assert (night.minutes_asleep, night.minutes_awake, night.sleep_type) == (9, 5, "classic")
    assert [(st.level, st.seconds // 60) for st in night.stages] == [
        ("awake", 2),
        ("asleep", 3),
        ("restless", 2),
        ("asleep", 4),
        ("awake", 1),
        ("asleep", 2),
    ]
    assert night.stages[0].start == night.start
    for a, b in zip(night.stages, night.stages[1:], strict=False):
        assert a.start + timedelta(seconds=a.seconds) == b.start, "stages tile the session"
    assert night.stages[-1].start + timedelta(seconds=night.stages[-1].seconds) == night.end


def test_a_missing_minute_splits_a_stage() -> None:
    logs = {str(s.log_id): s for s in parse(FIXTURES / "export", "minuteSleep_merged.csv").sleep}
    stages = logs["11396971102"].stages
    assert [(st.level, st.seconds // 60) for st in stages] == [("asleep", 3), ("asleep", 1), ("restless", 1)]
    assert stages[1].start - stages[0].start == timedelta(minutes=4)


def test_the_longest_log_of_a_night_is_the_main_sleep() -> None:
    logs = {str(s.log_id): s for s in parse(FIXTURES / "export", "minuteSleep_merged.csv").sleep}
    assert logs["11380564589"].is_main_sleep and not logs["11388770032"].is_main_sleep  # both end on 4/13
    assert logs["11396971102"].is_main_sleep  # alone on 4/14
    assert logs["11400000001"].is_main_sleep  # another participant's night is judged on its own


def test_daily_sleep_minutes_equal_fitabase_own_day_totals() -> None:
    """sleepDay_merged.csv holds Fitabase's sums of the same fixture nights: an independent check."""
    minutes = by_participant(parse(FIXTURES / "export", "minuteSleep_merged.csv"), "sleep_minutes")
    totals = by_participant(parse(FIXTURES / "daily_only", "sleepDay_merged.csv"), "sleep_minutes")
    assert sorted(minutes) == sorted(totals) == ["1503960366", "2022484408"]
    for pid in minutes:
        assert minutes[pid].ts.tolist() == totals[pid].ts.tolist()
        assert minutes[pid].value.tolist() == totals[pid].value.tolist()
    assert minutes["1503960366"].ts[0] == datetime_to_us(datetime(2016, 4, 13, tzinfo=NEW_YORK))


def test_bad_sleep_rows_are_rejected_and_the_rest_of_the_log_kept(tmp_path: Path) -> None:
    (tmp_path / "minuteSleep_merged.csv").write_text(
        "Id,date,value,logId\n"
        "1,4/13/2016 1:00:00 AM,1,7\n"
        "1,4/13/2016 1:01:00 AM,4,7\n"
        "1,4/13/2016 1:02:00 AM,1,\n"
        "1,4/13/2016 1:03:00 AM,1,7\n"
    )
    parsed = parse(tmp_path, "minuteSleep_merged.csv")
    assert [(r.record, r.field) for r in parsed.rejected] == [("line 3", "value"), ("line 4", "logId")]
    (session,) = parsed.sleep
    assert session.minutes_asleep == 2
    assert [(st.level, st.seconds // 60) for st in session.stages] == [("asleep", 1), ("asleep", 1)]


# ------------------------------------------------------------------------------------------ daily


DAILY = {
    "very_active_minutes": "VeryActiveMinutes",
    "moderately_active_minutes": "FairlyActiveMinutes",
    "lightly_active_minutes": "LightlyActiveMinutes",
    "sedentary_minutes": "SedentaryMinutes",
}


def daily_expected(path: Path, column: str, scale: float = 1.0) -> dict[str, list[tuple[int, float]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        midnight = datetime.strptime(row["ActivityDate"], "%m/%d/%Y").replace(tzinfo=NEW_YORK)
        expected.setdefault(row["Id"], []).append((datetime_to_us(midnight), float(row[column]) * scale))
    return expected


def test_daily_activity_minutes_are_stored_at_local_midnight() -> None:
    parsed = parse(FIXTURES / "export", "dailyActivity_merged.csv")
    for metric, column in DAILY.items():
        got = by_participant(parsed, metric)
        expected = daily_expected(FIXTURES / "export" / "dailyActivity_merged.csv", column)
        assert {
            pid: list(zip(b.ts.tolist(), b.value.tolist(), strict=True)) for pid, b in got.items()
        } == expected


def test_daily_steps_and_calories_are_left_to_minute_files_beside_them() -> None:
    parsed = parse(FIXTURES / "export", "dailyActivity_merged.csv")
    assert {b.metric for b in parsed.batches} == {*DAILY, "distance"}
    assert "left to the minute files" in parsed.kind


def test_daily_steps_calories_and_distance_load_when_there_are_no_minute_files() -> None:
    path = FIXTURES / "daily_only" / "dailyActivity_merged.csv"
    parsed = parse(FIXTURES / "daily_only", "dailyActivity_merged.csv")
    assert {b.metric for b in parsed.batches} == {*DAILY, "steps", "calories", "distance"}
    for metric, column, scale in (
        ("steps", "TotalSteps", 1.0),
        ("calories", "Calories", 1.0),
        ("distance", "TotalDistance", 1000.0),
    ):
        got = by_participant(parsed, metric)
        assert {
            pid: list(zip(b.ts.tolist(), b.value.tolist(), strict=True)) for pid, b in got.items()
        } == daily_expected(path, column, scale)


def test_a_bad_daily_cell_loses_only_its_metric(tmp_path: Path) -> None:
    text = (FIXTURES / "daily_only" / "dailyActivity_merged.csv").read_text()
    (tmp_path / "dailyActivity_merged.csv").write_text(text.replace(",25,13,328,728,", ",25,n/a,328,728,"))
    parsed = parse(tmp_path, "dailyActivity_merged.csv")
    assert [(r.record, r.field, r.kind) for r in parsed.rejected] == [
        ("line 2", "FairlyActiveMinutes", "not_a_number")
    ]
    moderate = by_participant(parsed, "moderately_active_minutes")
    assert len(moderate["1503960366"]) == 1
    assert len(by_participant(parsed, "very_active_minutes")["1503960366"]) == 2


def test_sleep_day_beside_minute_sleep_loads_nothing() -> None:
    parsed = parse(FIXTURES / "export", "sleepDay_merged.csv")
    assert (parsed.batches, parsed.rejected, parsed.records_read) == ([], [], 0)
    assert "redundant" in parsed.kind


# ------------------------------------------------------------------------------- detect and plan


def test_detect_recognises_the_export_and_the_daily_only_one() -> None:
    for where in ("export", "daily_only"):
        tree = open_tree(FIXTURES / where)
        assert SOURCE.detect(tree) > 0


def test_detect_ignores_unrelated_trees(tmp_path: Path) -> None:
    (tmp_path / "activity.csv").write_text("dateTime,value\n2024-01-01,8000\n")
    (tmp_path / "Fitbit" / "Global Export Data").mkdir(parents=True)
    (tmp_path / "Fitbit" / "Global Export Data" / "heart_rate-2025-07-17.json").write_text("[]")
    (tmp_path / "heartrate.csv").write_text("Id,Time,Value\n")
    assert SOURCE.detect(open_tree(tmp_path)) == 0


@pytest.mark.parametrize("folder", ["formats/wearipedia", "realdata"])
def test_detect_ignores_the_other_formats_real_files(folder: str) -> None:
    if not (SHARED / folder).exists():
        pytest.skip(f"{SHARED / folder} (shared reference data) is not on this machine")
    assert SOURCE.detect(open_tree(SHARED / folder)) == 0


def test_detect_counts_the_files_it_reads(tmp_path: Path) -> None:
    (tmp_path / "hourlySteps_merged.csv").write_text("Id,ActivityHour,StepTotal\n")
    assert SOURCE.detect(open_tree(tmp_path)) == 0, "a Fitabase file fitpipe does not read is not claimed"
    (tmp_path / "dailyActivity_merged.csv").write_text("x")
    assert SOURCE.detect(open_tree(tmp_path)) == 1
    assert SOURCE.detect(open_tree(FIXTURES / "export")) == 6


def test_plan_reads_known_files_in_load_order_and_lists_the_rest() -> None:
    plan = SOURCE.plan(open_tree(FIXTURES / "export"))
    assert plan.files == [
        "heartrate_seconds_merged.csv",
        "minuteStepsNarrow_merged.csv",
        "minuteCaloriesNarrow_merged.csv",
        "minuteSleep_merged.csv",
        "dailyActivity_merged.csv",
        "sleepDay_merged.csv",
    ]
    assert plan.unknown == ["hourlySteps_merged.csv", "weightLogInfo_merged.csv"]


def test_a_zipped_export_with_month_folders_reads_like_the_directory(tmp_path: Path) -> None:
    """Kaggle's archive holds two month folders with the same file names; names are matched in any case."""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for month in ("Fitabase Data 3.12.16-4.11.16", "Fitabase Data 4.12.16-5.12.16"):
            for f in sorted((FIXTURES / "export").iterdir()):
                name = "SleepDay_merged.csv" if f.name == "sleepDay_merged.csv" else f.name
                zf.write(f, f"{month}/{name}")
    tree: InputTree = open_tree(archive)
    plan = SOURCE.plan(tree)
    assert len(plan.files) == 12 and len(plan.unknown) == 4
    assert plan.files[:2] == [
        "Fitabase Data 3.12.16-4.11.16/heartrate_seconds_merged.csv",
        "Fitabase Data 4.12.16-5.12.16/heartrate_seconds_merged.csv",
    ]
    ctx = ParseContext(timezone=NEW_YORK)
    zipped = SOURCE.parse(tree, plan.files[0], ctx)
    direct = parse(FIXTURES / "export", "heartrate_seconds_merged.csv")
    assert [b.ts.tolist() for b in zipped.batches] == [b.ts.tolist() for b in direct.batches]
    assert zipped.batches[0].file == plan.files[0]
    daily = SOURCE.parse(tree, "Fitabase Data 4.12.16-5.12.16/dailyActivity_merged.csv", ctx)
    assert "steps" not in {b.metric for b in daily.batches}, "the minute files beside it count per folder"
    sleep_day = SOURCE.parse(tree, "Fitabase Data 4.12.16-5.12.16/SleepDay_merged.csv", ctx)
    assert sleep_day.batches == []
    tree.close()


def test_registry_returns_this_source_and_detection_picks_it_for_the_export() -> None:
    assert get_source("fitabase") is SOURCE
    assert detect_source(open_tree(FIXTURES / "export")) is SOURCE


# ------------------------------------------------------------------------------------------ speed


def test_a_big_file_read_in_chunks_gives_the_rows_of_a_whole_read(tmp_path: Path) -> None:
    """Memory is bounded by a chunk: pieces carry the file's line numbers and DST order across chunk ends
    (New York's repeated hour of 2016-11-06 lies across many 4 KiB chunks). Speed: bench/fitabase_stream.py."""
    start = datetime(2016, 11, 6, 0, 30)
    lines = ["Id,Time,Value"]
    for pid in (1000, 1001):
        lines += [
            f"{pid},{(start + timedelta(seconds=15 * i)).strftime('%-m/%-d/%Y %-I:%M:%S %p')},{60 + i % 50}"
            for i in range(600)  # 00:30 to 03:00 local: 01:00-02:00 written twice would be a repeat...
        ]
    # ...so write the repeated hour as a device does: first pass, then the same wall times again
    repeat = [f"1001,11/6/2016 1:{m:02d}:00 AM,{70 + m % 20}" for m in range(60)]
    (tmp_path / "heartrate_seconds_merged.csv").write_text("\r\n".join(lines + repeat) + "\r\n")
    tree = open_tree(tmp_path)
    small = ParseContext(timezone=NEW_YORK, chunk_bytes=4096)
    pieces = list(SOURCE.parse_pieces(tree, "heartrate_seconds_merged.csv", small))
    whole = parse(tmp_path, "heartrate_seconds_merged.csv")
    assert len(pieces) > 5
    assert sum(p.records_read for p in pieces) == whole.records_read == 1260
    for who in ("1000", "1001"):
        got = np.concatenate([b.ts for p in pieces for b in p.batches if b.participant == who])
        lines_got = np.concatenate([b.line for p in pieces for b in p.batches if b.participant == who])
        assert got.tolist() == by_participant(whole, "heart_rate")[who].ts.tolist()
        lines_whole = by_participant(whole, "heart_rate")[who].line
        assert lines_whole is not None and lines_got.tolist() == lines_whole.tolist()


def test_a_line_that_is_not_utf8_is_rejected_alone(tmp_path: Path) -> None:
    (tmp_path / "heartrate_seconds_merged.csv").write_bytes(
        b"Id,Time,Value\r\n1,4/12/2016 7:21:00 AM,97\r\n1,4/12/2016 7:21:05 AM,9\xe97\r\n1,4/12/2016 7:21:10 AM,99\r\n"
    )
    parsed = parse(tmp_path, "heartrate_seconds_merged.csv")
    assert parsed.batches[0].line is not None and parsed.batches[0].line.tolist() == [2, 4]
    assert [(r.record, r.reason, r.participant) for r in parsed.rejected] == [
        ("line 3", "not UTF-8 text", "1")
    ]


# ------------------------------------------------------------------------------ with the loader


@pytest.mark.db
@pytest.mark.parametrize("one_participant", [False, True])
def test_the_export_loads_into_the_database(db: psycopg.Connection, one_participant: bool) -> None:
    participants = {
        pid: add_participant(db, pid, "fitabase", timezone="America/New_York")[0]
        for pid in ("1503960366", "2022484408")
    }
    summary = ingest_path(
        db,
        FIXTURES / "export",
        participant=participants["2022484408"] if one_participant else None,
        study="fitabase",
        fmt="fitabase",
        options_for=lambda source: LoadOptions(source=source),
        timezone=NEW_YORK,
    )
    assert [f.file for f in summary.files if f.status == "failed"] == []
    counts: dict[str, int] = dict(
        db.execute(
            "SELECT p.external_id || '/' || m.name, count(*) FROM samples s JOIN participants p ON p.id = s.participant_id"
            " JOIN metrics m ON m.id = s.metric_id GROUP BY 1"
        ).fetchall()
    )
    expected = {
        "2022484408/heart_rate": 4,
        "2022484408/steps": 2,
        "2022484408/calories": 1,
        "2022484408/sleep_minutes": 1,
        "2022484408/distance": 1,
        **{f"2022484408/{m}": 1 for m in DAILY},
    }
    if not one_participant:
        expected |= {
            "1503960366/heart_rate": 9,
            "1503960366/steps": 3,
            "1503960366/calories": 2,
            "1503960366/sleep_minutes": 2,
            "1503960366/distance": 2,
            **{f"1503960366/{m}": 2 for m in DAILY},
        }
    assert counts == expected
    sessions = db.execute(
        "SELECT log_id, is_main_sleep, (SELECT count(*) FROM sleep_stages st WHERE st.session_id = s.id)"
        " FROM sleep_sessions s ORDER BY log_id"
    ).fetchall()
    mine = [("11400000001", True, 2)]
    assert sessions == (
        mine
        if one_participant
        else [
            ("11380564589", True, 6),
            ("11388770032", False, 2),
            ("11396971102", True, 3),
            *mine,
        ]
    )
    assert db.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
