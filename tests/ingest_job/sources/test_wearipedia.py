"""The wearipedia CSV source: values and instants checked against ast.literal_eval and zoneinfo, quirks, bad input."""

from __future__ import annotations

import ast
import csv
import math
import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from fitpipe.errors import InputError
from fitpipe_ingest.records import ParseContext, ParsedFile, SampleBatch
from fitpipe_ingest.sources.registry import detect_source, get_source
from fitpipe_ingest.sources.wearipedia import FILE_KINDS, SOURCE
from fitpipe_ingest.sources.wearipedia.heart_rate import read_heart_rate_fast
from fitpipe_ingest.tree import open_tree
from tests.shared_data import shared

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wearipedia"
CHALLENGE = FIXTURES / "challenge"
NOTEBOOK = FIXTURES / "notebook"
SHARED = shared("formats", "wearipedia")
UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- an independent reading of the files: csv + ast.literal_eval + zoneinfo --------------------------


def literal(cell: str) -> Any:
    return ast.literal_eval(re.sub(r"np\.\w+\(([^()]*)\)", r"\1", cell))


def csv_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(2**31 - 1)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def us(naive: datetime, tz: ZoneInfo) -> int:
    return (naive.replace(tzinfo=tz) - EPOCH) // timedelta(microseconds=1)


def midnight_us(day: str, tz: ZoneInfo) -> int:
    return us(datetime.fromisoformat(day), tz)


def parse(root: Path, name: str, tz: ZoneInfo = UTC) -> ParsedFile:
    return SOURCE.parse(open_tree(root), name, ParseContext(tz))


def batch(parsed: ParsedFile, metric: str, participant: str | None = None) -> SampleBatch:
    found = [b for b in parsed.batches if b.metric == metric and b.participant == participant]
    assert len(found) == 1, f"{metric}/{participant}: {[(b.metric, b.participant) for b in parsed.batches]}"
    return found[0]


def lines_of(b: SampleBatch) -> list[int]:
    assert b.line is not None
    return b.line.tolist()


def items_of(b: SampleBatch) -> list[int]:
    assert b.item is not None
    return b.item.tolist()


def points(parsed: ParsedFile, metric: str, participant: str | None = None) -> list[tuple[int, float]]:
    b = batch(parsed, metric, participant)
    return sorted(zip(b.ts.tolist(), b.value.tolist(), strict=True))


def expected_heart_rate(path: Path, tz: ZoneInfo) -> list[tuple[int, float]]:
    out = []
    for row in csv_rows(path):
        for entry in literal(row["heart_rate_day"]):
            day = entry["activities-heart"][0]["dateTime"]
            for item in entry["activities-heart-intraday"]["dataset"]:
                out.append((us(datetime.fromisoformat(f"{day}T{item['time']}"), tz), float(item["value"])))
    return sorted(out)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def hr_row(day: str, items: list[tuple[str, str]], resting: str = "60") -> str:
    dataset = ", ".join(f"{{'time': '{t}', 'value': {v}}}" for t, v in items)
    return (
        f"\"[{{'activities-heart': [{{'dateTime': '{day}', 'value': {{'customHeartRateZones': [], "
        f"'heartRateZones': [], 'restingHeartRate': {resting}}}}}], 'activities-heart-intraday': "
        f"{{'dataset': [{dataset}], 'datasetInterval': 1, 'datasetType': 'second'}}}}]\""
    )


def clock(i: int) -> str:
    return f"{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"


# --- the fixture directory -----------------------------------------------------------------------


def test_heart_rate_matches_literal_eval_including_np_int64_and_plain_ints() -> None:
    parsed = parse(CHALLENGE, "heart_rate.csv", NEW_YORK)
    assert points(parsed, "heart_rate") == expected_heart_rate(CHALLENGE / "heart_rate.csv", NEW_YORK)
    assert not parsed.rejected


def test_heart_rate_samples_name_their_csv_line_and_item() -> None:
    b = batch(parse(CHALLENGE, "heart_rate.csv"), "heart_rate")
    assert lines_of(b) == [2, 2, 2, 2, 2, 3, 3, 3, 3]  # the header is line 1
    assert items_of(b) == [0, 1, 2, 3, 4, 0, 1, 2, 3]
    assert b.locate(6) == "line 3, item 1"


def test_daily_values_are_stamped_at_local_midnight() -> None:
    parsed = parse(CHALLENGE, "heart_rate.csv", NEW_YORK)
    rows = csv_rows(CHALLENGE / "heart_rate.csv")
    days = [literal(r["heart_rate_day"])[0]["activities-heart"][0] for r in rows]
    assert points(parsed, "resting_heart_rate") == [
        (midnight_us(d["dateTime"], NEW_YORK), float(d["value"]["restingHeartRate"])) for d in days
    ]
    steps = parse(CHALLENGE, "activity.csv", NEW_YORK)
    assert points(steps, "steps") == [
        (midnight_us(r["dateTime"], NEW_YORK), float(r["value"]))
        for r in csv_rows(CHALLENGE / "activity.csv")
    ]


def test_zone_counts_of_one_second_samples_become_minutes_and_real_minutes_stay() -> None:
    parsed = parse(CHALLENGE, "heart_rate.csv")
    rows = [
        literal(r["heart_rate_day"])[0]["activities-heart"][0]["value"]
        for r in csv_rows(CHALLENGE / "heart_rate.csv")
    ]
    seconds_day, minutes_day = (dict((z["name"], z["minutes"]) for z in r["heartRateZones"]) for r in rows)
    assert sum(seconds_day.values()) == 86_400 and sum(minutes_day.values()) <= 1440
    for metric, name in [
        ("hr_zone_out_of_range", "Out of Range"),
        ("hr_zone_fat_burn", "Fat Burn"),
        ("hr_zone_cardio", "Cardio"),
        ("hr_zone_peak", "Peak"),
    ]:
        assert [v for _, v in points(parsed, metric)] == [seconds_day[name] / 60, minutes_day[name]]


def test_hrv_minutes_after_midnight_move_to_the_next_day_and_meet_spo2() -> None:
    hrv = parse(CHALLENGE, "hrv.csv")
    spo2 = parse(CHALLENGE, "spo2.csv")
    raw = literal(csv_rows(CHALLENGE / "hrv.csv")[0]["hrv"])[0]["minutes"]
    assert [m["minute"][:10] for m in raw] == ["2024-01-14"] * 4  # the generator's bug is in the fixture
    hrv_ts = [ts for ts, _ in points(hrv, "hrv_rmssd")]
    spo2_ts = [ts for ts, _ in points(spo2, "spo2")]
    assert hrv_ts == spo2_ts  # SpO2 writes the same minutes with the right dates
    assert hrv_ts[2] == us(datetime(2024, 1, 15, 0, 0, 30), UTC)
    expected = sorted(
        (us(datetime.fromisoformat(m["minute"]) + timedelta(days=1 if i >= 2 else 0), UTC), m["value"]["lf"])
        for i, m in enumerate(raw)
    )
    assert points(hrv, "hrv_lf")[:4] == expected


def test_spo2_values_match_literal_eval() -> None:
    expected = sorted(
        (us(datetime.fromisoformat(item["minute"]), NEW_YORK), float(item["value"]))
        for row in csv_rows(CHALLENGE / "spo2.csv")
        for item in literal(row["minutes"])
    )
    assert points(parse(CHALLENGE, "spo2.csv", NEW_YORK), "spo2") == expected


def test_breathing_rates_of_each_sleep_stage() -> None:
    parsed = parse(CHALLENGE, "breathing_rate.csv")
    entries = [literal(r["br"])[0] for r in csv_rows(CHALLENGE / "breathing_rate.csv")]
    for metric, key in [
        ("breathing_rate", "fullSleepSummary"),
        ("breathing_rate_deep", "deepSleepSummary"),
        ("breathing_rate_rem", "remSleepSummary"),
        ("breathing_rate_light", "lightSleepSummary"),
    ]:
        assert points(parsed, metric) == [
            (midnight_us(e["dateTime"], UTC), e["value"][key]["breathingRate"]) for e in entries
        ]


def test_zone_minutes_are_emitted_only_where_the_key_is_present() -> None:
    parsed = parse(CHALLENGE, "active_zone_minutes.csv")
    expected: dict[str, list[tuple[int, float]]] = {}
    total = []
    for row in csv_rows(CHALLENGE / "active_zone_minutes.csv"):
        entry = literal(row["activities-active-zone-minutes-intraday"])[0]
        for m in entry["minutes"]:
            ts = us(datetime.fromisoformat(f"{entry['dateTime']}T{m['minute']}"), UTC)
            total.append((ts, float(m["value"]["activeZoneMinutes"])))
            for key, value in m["value"].items():
                expected.setdefault(key, []).append((ts, float(value)))
    assert points(parsed, "active_zone_minutes") == sorted(total)
    assert points(parsed, "azm_fat_burn") == expected["fatBurnActiveZoneMinutes"]
    assert points(parsed, "azm_cardio") == expected["cardioActiveZoneMinutes"]
    assert points(parsed, "azm_peak") == expected["peakActiveZoneMinutes"]


def test_records_read_counts_every_sample_and_rejection() -> None:
    for kind in FILE_KINDS:
        parsed = parse(CHALLENGE, kind.file_names[0])
        assert parsed.records_read == sum(len(b) for b in parsed.batches) + len(parsed.rejected) > 0


def test_notebook_names_and_user_id_column_give_one_batch_per_participant() -> None:
    tree = open_tree(NOTEBOOK)
    assert SOURCE.plan(tree).files == ["hr.csv", "br.csv", "azm.csv"]
    hr = parse(NOTEBOOK, "hr.csv")
    assert points(hr, "heart_rate", "p01") == [
        (us(datetime(2024, 2, 1, 8, 0, 0), UTC), 72.5),
        (us(datetime(2024, 2, 1, 8, 0, 1), UTC), 73.5),
    ]
    assert points(hr, "heart_rate", "p02") == [(us(datetime(2024, 2, 1, 8), UTC), 60.0)]
    assert points(parse(NOTEBOOK, "br.csv"), "breathing_rate", "p02") == [
        (midnight_us("2024-02-01", UTC), 16.25)
    ]
    azm = parse(NOTEBOOK, "azm.csv")
    assert {b.participant for b in azm.batches if b.metric == "azm_peak"} == {"p02"}


# --- detection and planning ---------------------------------------------------------------------


def test_detect_claims_every_file_of_a_wearipedia_directory() -> None:
    tree = open_tree(CHALLENGE)
    assert SOURCE.detect(tree) == 6
    assert detect_source(tree) is get_source("wearipedia")


def test_a_wearipedia_name_needs_its_header_unless_its_export_is_beside_it(tmp_path: Path) -> None:
    """activity.csv from another app is not claimed; a damaged heart_rate.csv beside wearipedia files is."""
    write(tmp_path / "hr.csv", "Id,Time,Value\n1,1/1/2024 0:00:00 AM,60\n")
    write(tmp_path / "notes.txt", "hello\n")
    assert SOURCE.detect(open_tree(tmp_path)) == 0
    write(tmp_path / "activity.csv", "dateTime,value\n2024-01-01,3450\n")
    assert SOURCE.plan(open_tree(tmp_path)).files == ["activity.csv", "hr.csv"]


def test_plan_lists_unknown_files_and_loads_known_ones_in_order(tmp_path: Path) -> None:
    shutil.copytree(CHALLENGE, tmp_path / "export")
    write(tmp_path / "export" / "sleep.csv", "sleep\n")
    write(tmp_path / "export" / "README.txt", "notebook output\n")
    plan = SOURCE.plan(open_tree(tmp_path / "export"))
    assert plan.files == [
        "activity.csv",
        "heart_rate.csv",
        "spo2.csv",
        "hrv.csv",
        "breathing_rate.csv",
        "active_zone_minutes.csv",
    ]
    assert plan.unknown == ["sleep.csv"] and plan.documentation == ["README.txt"]


# --- speed path against the careful path --------------------------------------------------------


def test_a_long_heart_rate_row_reads_exactly_what_literal_eval_reads(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    values = [f"np.float64({v!r})" for v in rng.uniform(50, 195, 3000).tolist()]
    values[5] = "np.int64(77)"
    values[6] = "81"
    write(
        tmp_path / "heart_rate.csv",
        "heart_rate_day\n" + hr_row("2024-01-01", [(clock(i), v) for i, v in enumerate(values)]) + "\n",
    )
    parsed = parse(tmp_path, "heart_rate.csv")
    assert points(parsed, "heart_rate") == expected_heart_rate(tmp_path / "heart_rate.csv", UTC)


def test_the_generators_layout_takes_the_fast_path_and_anything_else_does_not() -> None:
    # the fast path is what keeps 30 days of 1 Hz data inside the ingest budget (bench/parse_wearipedia.py)
    items = ["np.float64(64.5)", "np.int64(66)", "70", "None", "np.float64(nan)"]
    body = ", ".join(f"{{'time': '{clock(i)}', 'value': {v}}}" for i, v in enumerate(items)).encode()
    fast = read_heart_rate_fast(body)
    assert fast is not None
    assert fast.items.tolist() == [0, 1, 2, 4] and fast.none_items.tolist() == [3]
    assert fast.seconds.tolist() == [0, 1, 2, 4]
    assert fast.values[:3].tolist() == [64.5, 66.0, 70.0] and math.isnan(fast.values[3])
    for odd in (
        b"{'value': 64.5, 'time': '00:00:00'}",
        b"{'time': '00:00:00', 'value': 'abc'}",
        b"{'time': '0:00:00', 'value': 1}",
    ):
        assert read_heart_rate_fast(odd) is None


def test_one_non_numeric_item_is_quarantined_and_its_row_still_loads(tmp_path: Path) -> None:
    items = [(clock(i), f"np.float64({60 + i / 4})") for i in range(400)]
    items[123] = (clock(123), "'abc'")
    write(tmp_path / "heart_rate.csv", "heart_rate_day\n" + hr_row("2024-01-01", items) + "\n")
    parsed = parse(tmp_path, "heart_rate.csv")
    [bad] = parsed.rejected
    assert (bad.record, bad.field, bad.kind) == ("line 2, item 123", "heart_rate_day.value", "not_a_number")
    assert "abc" in bad.raw
    b = batch(parsed, "heart_rate")
    assert len(b) == 399 and 123 not in items_of(b)
    assert b.value[items_of(b).index(124)] == 60 + 124 / 4


def test_none_item_is_quarantined_with_its_position_and_nan_passes_to_the_loader(tmp_path: Path) -> None:
    items = [(clock(i), f"np.float64({70 + i})") for i in range(10)]
    items[3] = (clock(3), "None")
    items[4] = (clock(4), "np.float64(nan)")
    write(tmp_path / "heart_rate.csv", "heart_rate_day\n" + hr_row("2024-01-01", items) + "\n")
    parsed = parse(tmp_path, "heart_rate.csv")
    [bad] = parsed.rejected
    assert (bad.record, bad.field, bad.raw, bad.kind) == (
        "line 2, item 3",
        "heart_rate_day.value",
        "None",
        "not_a_number",
    )
    b = batch(parsed, "heart_rate")
    assert items_of(b) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert math.isnan(b.value[3]) and b.value[4] == 75.0


def test_a_bad_time_rejects_only_that_item(tmp_path: Path) -> None:
    items = [("00:00:00", "61"), ("24:00:00", "62"), ("00:00:02", "63")]
    write(tmp_path / "heart_rate.csv", "heart_rate_day\n" + hr_row("2024-01-01", items) + "\n")
    parsed = parse(tmp_path, "heart_rate.csv")
    assert [(r.record, r.kind) for r in parsed.rejected] == [("line 2, item 1", "bad_timestamp")]
    assert [v for _, v in points(parsed, "heart_rate")] == [61.0, 63.0]


# --- time zones ---------------------------------------------------------------------------------


def test_times_skipped_by_daylight_saving_are_rejected_and_the_rest_convert(tmp_path: Path) -> None:
    items = [("01:59:59", "70"), ("02:00:00", "71"), ("02:30:00", "72"), ("03:00:00", "73")]
    write(tmp_path / "heart_rate.csv", "heart_rate_day\n" + hr_row("2024-03-10", items) + "\n")
    parsed = parse(tmp_path, "heart_rate.csv", NEW_YORK)
    assert [(r.record, r.kind) for r in parsed.rejected] == [
        ("line 2, item 1", "nonexistent_local_time"),
        ("line 2, item 2", "nonexistent_local_time"),
    ]
    assert "does not exist in America/New_York" in parsed.rejected[0].reason
    before, after = points(parsed, "heart_rate")
    assert before == (us(datetime(2024, 3, 10, 1, 59, 59), NEW_YORK), 70.0)
    assert after == (us(datetime(2024, 3, 10, 3, 0, 0), NEW_YORK), 73.0)
    assert after[0] - before[0] == 1_000_000  # the clock jumped an hour; one second passed
    assert points(parsed, "resting_heart_rate") == [(midnight_us("2024-03-10", NEW_YORK), 60.0)]


def test_a_day_whose_midnight_does_not_exist_starts_when_the_clocks_jump(tmp_path: Path) -> None:
    santiago = ZoneInfo("America/Santiago")  # 2024-09-08 00:00 -04 jumped to 01:00 -03
    write(tmp_path / "activity.csv", "dateTime,value\n2024-09-08,5000\n")
    [(ts, _)] = points(parse(tmp_path, "activity.csv", santiago), "steps")
    assert ts == (datetime(2024, 9, 8, 4, 0, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


# --- bad input ----------------------------------------------------------------------------------


def test_a_file_that_ends_inside_a_row_loses_that_row_only_and_says_it_looks_cut_off(tmp_path: Path) -> None:
    good = hr_row("2024-01-01", [("00:00:00", "61")])
    cut = hr_row("2024-01-02", [("00:00:00", "61"), ("00:00:01", "62")])[:-40]
    write(tmp_path / "heart_rate.csv", f"heart_rate_day\n{good}\n{cut}")
    parsed = parse(tmp_path, "heart_rate.csv")
    [bad] = parsed.rejected
    assert (bad.file, bad.record, bad.field) == ("heart_rate.csv", "line 3", "heart_rate_day")
    assert bad.reason.startswith("not a Python literal") and "the file ends inside this line" in bad.reason
    assert points(parsed, "heart_rate") == [(midnight_us("2024-01-01", UTC), 61.0)]


def test_a_cut_row_in_the_middle_is_quarantined_and_the_next_row_loads(tmp_path: Path) -> None:
    cut = hr_row("2024-01-01", [("00:00:00", "61"), ("00:00:01", "62")])[:-40]
    good = hr_row("2024-01-02", [("00:00:00", "64")])
    write(tmp_path / "heart_rate.csv", f"heart_rate_day\n{cut}\n{good}\n")
    parsed = parse(tmp_path, "heart_rate.csv")
    assert [r.record for r in parsed.rejected] == ["line 2"]
    assert points(parsed, "heart_rate") == [(midnight_us("2024-01-02", UTC), 64.0)]


def test_a_bad_date_quarantines_its_row(tmp_path: Path) -> None:
    write(tmp_path / "activity.csv", "dateTime,value\n2024-02-30,100\n2024-02-28,abc\n2024-02-29,200\n")
    parsed = parse(tmp_path, "activity.csv")
    assert [(r.record, r.field, r.kind) for r in parsed.rejected] == [
        ("line 2", "dateTime", "bad_timestamp"),
        ("line 3", "value", "not_a_number"),
    ]
    assert points(parsed, "steps") == [(midnight_us("2024-02-29", UTC), 200.0)]


def test_a_cell_pandas_wrote_for_a_missing_day_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "spo2.csv", 'dateTime,minutes\n2024-01-01,\n2024-01-02,"[]"\n')
    parsed = parse(tmp_path, "spo2.csv")
    assert parsed.batches == [] and parsed.rejected == []


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_an_empty_file_is_an_input_error(tmp_path: Path, content: str) -> None:
    write(tmp_path / "hrv.csv", content)
    with pytest.raises(InputError, match="empty") as err:
        parse(tmp_path, "hrv.csv")
    assert err.value.file == "hrv.csv"


def test_a_wrong_header_is_an_input_error_on_line_1(tmp_path: Path) -> None:
    write(tmp_path / "spo2.csv", "date,spo2\n2024-01-01,97\n")
    with pytest.raises(InputError, match="dateTime, minutes") as err:
        parse(tmp_path, "spo2.csv")
    assert err.value.line == 1


def test_a_byte_order_mark_changes_nothing(tmp_path: Path) -> None:
    for kind in FILE_KINDS:
        name = kind.file_names[0]
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + (CHALLENGE / name).read_bytes())
        with_bom, without = parse(tmp_path, name), parse(CHALLENGE, name)
        assert [(b.metric, b.ts.tolist(), b.value.tolist()) for b in with_bom.batches] == [
            (b.metric, b.ts.tolist(), b.value.tolist()) for b in without.batches
        ]


def test_a_file_with_an_unknown_name_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "sleep.csv", "sleep\n")
    with pytest.raises(InputError, match="not a wearipedia file name"):
        parse(tmp_path, "sleep.csv")


# --- the real generator output ------------------------------------------------------------------


@pytest.mark.skipif(
    not SHARED.exists(), reason=f"needs the real generator output in {SHARED} (set FITPIPE_SHARED_DATA)"
)
def test_real_samples_read_completely_and_match_literal_eval() -> None:
    tree = open_tree(SHARED)
    assert SOURCE.detect(tree) == 6
    for name in SOURCE.plan(tree).files:
        assert not parse(SHARED, name).rejected, name
    assert points(parse(SHARED, "heart_rate.csv", NEW_YORK), "heart_rate") == expected_heart_rate(
        SHARED / "heart_rate.csv", NEW_YORK
    )
    hrv = [literal(r["hrv"])[0] for r in csv_rows(SHARED / "hrv.csv")]
    assert points(parse(SHARED, "hrv.csv"), "hrv_rmssd") == sorted(
        (us(datetime.fromisoformat(m["minute"]), UTC), m["value"]["rmssd"]) for e in hrv for m in e["minutes"]
    )
    steps = points(parse(SHARED, "activity.csv", NEW_YORK), "steps")
    assert [ts for ts, _ in steps] == [midnight_us(str(date(2024, 1, d)), NEW_YORK) for d in (1, 2, 3)]
