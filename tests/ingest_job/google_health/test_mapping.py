"""Mapping data points onto the catalog, without a database: physical time and UTC offsets, proto3's omitted
zeros, daily values at local midnight, zone minutes, the breathing-rate summary, sleep, rejected points."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe.google_health.datatypes import BY_NAME
from fitpipe.localtime import datetime_to_us
from fitpipe_ingest.google_health.mapping import map_points
from fitpipe_ingest.records import ParsedFile
from tests.fakes import health_points as hp

NY = ZoneInfo("America/New_York")


def _map(data_type: str, points: list[dict], zone: ZoneInfo = NY) -> ParsedFile:
    return map_points(BY_NAME[data_type], points, path=f"google_health/{data_type}/w", zone=zone)


def _series(parsed: ParsedFile, metric: str) -> list[tuple[datetime, float]]:
    batch = [b for b in parsed.batches if b.metric == metric]
    if not batch:
        return []
    (b,) = batch
    return [
        (datetime.fromtimestamp(t / 1e6, UTC), v)
        for t, v in zip(b.ts.tolist(), b.value.tolist(), strict=True)
    ]


def _us(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_samples_are_stored_at_physical_time_whatever_the_offset_says() -> None:
    instant = datetime(2026, 11, 10, 13, 1, 29, tzinfo=UTC)
    with_z = hp.heart_rate(instant, 1, offset_s=-5 * 3600)
    with_offset_text = [
        {
            "heartRate": {
                "sampleTime": {"physicalTime": "2026-11-10T08:01:30-05:00", "utcOffset": "-18000s"},
                "beatsPerMinute": "70",
            }
        }
    ]
    civil_only = [
        {
            "heartRate": {
                "sampleTime": {
                    "utcOffset": "-18000s",
                    "civilTime": hp.civil(instant + timedelta(seconds=2), -18000),
                },
                "beatsPerMinute": "71",
            }
        }
    ]
    no_offset = [
        {
            "heartRate": {
                "sampleTime": {"civilTime": hp.civil(instant + timedelta(seconds=3), -18000)},
                "beatsPerMinute": "72",
            }
        }
    ]
    parsed = _map("heart-rate", with_z + with_offset_text + civil_only + no_offset)
    assert [t for t, _ in _series(parsed, "heart_rate")] == [instant + timedelta(seconds=s) for s in range(4)]
    assert parsed.rejected == []


def test_a_civil_time_skipped_by_the_clocks_is_rejected() -> None:
    gap = {
        "date": {"year": 2026, "month": 3, "day": 8},
        "time": {"hours": 2, "minutes": 30},
    }  # New York springs forward
    parsed = _map("heart-rate", [{"heartRate": {"sampleTime": {"civilTime": gap}, "beatsPerMinute": "70"}}])
    assert _series(parsed, "heart_rate") == []
    assert [(r.record, r.kind) for r in parsed.rejected] == [("point 1", "nonexistent_local_time")]


def test_omitted_zero_step_counts_are_zero_steps() -> None:
    points = hp.steps(datetime(2026, 11, 10, tzinfo=UTC), 4, count=lambda i: [0, 5, 0, 7][i])
    assert "count" not in points[0]["steps"]
    assert [v for _, v in _series(_map("steps", points), "steps")] == [0.0, 5.0, 0.0, 7.0]


def test_zone_minutes_feed_their_zone_and_add_up_per_minute() -> None:
    start = datetime(2026, 11, 10, 12, tzinfo=UTC)
    points = hp.zone_minutes(start, ["FAT_BURN", "CARDIO"]) + hp.zone_minutes(start, ["PEAK"])
    parsed = _map("active-zone-minutes", points)
    assert _series(parsed, "active_zone_minutes") == [(start, 3.0), (start + timedelta(minutes=1), 2.0)]
    assert _series(parsed, "azm_peak") == [(start, 2.0)]
    assert _series(parsed, "azm_fat_burn") == [(start, 1.0)]
    assert _series(parsed, "azm_cardio") == [(start + timedelta(minutes=1), 2.0)]


def test_daily_values_land_on_the_participants_local_midnight_and_omitted_ones_are_skipped() -> None:
    parsed = _map(
        "daily-oxygen-saturation",
        [hp.daily_spo2(date(2026, 11, 9), 96.5), hp.daily_spo2(date(2026, 11, 10), 0)],
    )
    midnight = datetime(2026, 11, 9, tzinfo=NY).astimezone(UTC)
    assert _series(parsed, "spo2_daily") == [(midnight, 96.5)]
    assert parsed.rejected == []


def test_breathing_rate_summary_is_one_value_per_local_wake_day_from_the_last_sleep() -> None:
    wake = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)  # 22:00 on the 9th in New York
    nap = wake - timedelta(hours=6)
    parsed = _map(
        "respiratory-rate-sleep-summary",
        [
            hp.respiratory_summary(wake, -18000, 14.0, 13.0, 15.0, 16.0),
            hp.respiratory_summary(nap, -18000, 20.0, 19.0, 21.0, 22.0),
        ],
    )
    midnight = datetime(2026, 11, 9, tzinfo=NY).astimezone(UTC)
    assert _series(parsed, "breathing_rate_deep") == [(midnight, 13.0)]
    assert _series(parsed, "breathing_rate_rem") == [(midnight, 16.0)]
    assert _series(parsed, "breathing_rate") == [], "the whole-sleep rate comes from daily-respiratory-rate"


def test_sleep_becomes_a_session_dated_by_its_local_end_and_main_sleeps_give_sleep_minutes() -> None:
    start, end = datetime(2026, 11, 10, 3, 30, tzinfo=UTC), datetime(2026, 11, 10, 11, 0, tzinfo=UTC)
    stages = [("LIGHT", 100), ("DEEP", 90), ("AWAKE", 20), ("REM", 100), ("LIGHT", 140)]
    main = hp.sleep("123", "u", start, end, offset_s=-18000, stages=stages)
    nap = hp.sleep(
        "124", "u", end + timedelta(hours=6), end + timedelta(hours=7), offset_s=-18000, main=False
    )
    parsed = _map("sleep", [nap, main])
    by_id = {s.log_id: s for s in parsed.sleep}
    session = by_id["123"]
    assert (session.start, session.end, session.local_date, session.is_main_sleep) == (
        start,
        end,
        date(2026, 11, 10),
        True,
    )
    assert [st.level for st in session.stages] == ["light", "deep", "wake", "rem", "light"]
    assert sum(st.seconds for st in session.stages) == (end - start).total_seconds()
    assert by_id["124"].is_main_sleep is False
    asleep = sum(m for k, m in stages if k != "AWAKE")
    assert _series(parsed, "sleep_minutes") == [
        (datetime(2026, 11, 10, tzinfo=NY).astimezone(UTC), float(asleep))
    ]


def test_unreadable_points_are_rejected_with_their_position_and_the_rest_kept() -> None:
    good = hp.heart_rate(datetime(2026, 11, 10, tzinfo=UTC), 2)
    bad_value = {
        "heartRate": {"sampleTime": {"physicalTime": "2026-11-10T01:00:00Z"}, "beatsPerMinute": "seventy"}
    }
    bad_time = {"heartRate": {"sampleTime": {"physicalTime": "yesterday"}, "beatsPerMinute": "70"}}
    no_member: dict[str, object] = {"dataSource": {}}
    floor = {"oxygenSaturation": {"sampleTime": {"physicalTime": "2026-11-10T01:00:00Z"}, "percentage": 50.0}}
    parsed = _map("heart-rate", [good[0], bad_value, bad_time, no_member, good[1]])
    assert len(_series(parsed, "heart_rate")) == 2
    assert [(r.record, r.kind) for r in parsed.rejected] == [
        ("point 4", "missing_field"),
        ("point 3", "bad_timestamp"),
        ("point 2", "not_a_number"),
    ]
    assert "seventy" in parsed.rejected[2].raw
    spo2 = _map("oxygen-saturation", [floor])
    assert [r.kind for r in spo2.rejected] == ["sentinel_value"]


def test_a_day_of_one_second_heart_rate_maps_to_every_second_of_it() -> None:
    # (its speed is measured by bench/map_google_health.py, not here)
    points = hp.heart_rate(datetime(2026, 11, 10, tzinfo=UTC), 86_400, timedelta(seconds=1))
    parsed = _map("heart-rate", points)
    (batch,) = parsed.batches
    assert batch.ts.size == 86_400 and np.all(np.diff(batch.ts) == 1_000_000)
    assert batch.ts[0] == datetime_to_us(datetime(2026, 11, 10, tzinfo=UTC))
    assert batch.value.tolist() == [60 + i % 40 for i in range(86_400)]


def test_slim_page_decoding_maps_to_exactly_what_full_decoding_does() -> None:
    import orjson

    from fitpipe.google_health.pages import decode_page

    start = datetime(2026, 11, 10, tzinfo=UTC)
    pages = {
        "heart-rate": hp.heart_rate(start, 500, offset_s=-18000),
        "steps": hp.steps(start, 500, offset_s=-18000),
        "active-zone-minutes": hp.zone_minutes(start, ["FAT_BURN", "CARDIO", "PEAK"] * 50),
        "oxygen-saturation": hp.spo2(start, 300),
        "heart-rate-variability": hp.hrv(start, 100),
    }
    for name, points in pages.items():
        raw = orjson.dumps({"dataPoints": points, "nextPageToken": "t"})
        slim = decode_page(BY_NAME[name], raw)
        assert "dataSource" not in slim["dataPoints"][0] and slim["nextPageToken"] == "t"
        fast, full = _map(name, slim["dataPoints"]), _map(name, orjson.loads(raw)["dataPoints"])
        assert [(b.metric, b.ts.tolist(), b.value.tolist()) for b in fast.batches] == [
            (b.metric, b.ts.tolist(), b.value.tolist()) for b in full.batches
        ], name


def test_a_page_with_a_point_placed_by_civil_time_is_decoded_in_full() -> None:
    import orjson

    from fitpipe.google_health.pages import decode_page

    instant = datetime(2026, 11, 10, 13, tzinfo=UTC)
    later = instant + timedelta(minutes=1)
    civil_only = {
        "heartRate": {
            "sampleTime": {"utcOffset": "-18000s", "civilTime": hp.civil(later, -18000)},
            "beatsPerMinute": "71",
        }
    }
    page = decode_page(
        BY_NAME["heart-rate"], orjson.dumps({"dataPoints": hp.heart_rate(instant, 1) + [civil_only]})
    )
    assert "civilTime" in page["dataPoints"][1]["heartRate"]["sampleTime"]
    assert [t for t, _ in _series(_map("heart-rate", page["dataPoints"]), "heart_rate")] == [instant, later]
