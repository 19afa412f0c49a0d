"""The HTTP client against the fake API: pages followed to the end whatever the last token looks like, empty
pages with a token, filters the API accepts for every kind of data type, the identity, and 410 Gone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fitpipe.google_health.client import GoogleHealthClient
from fitpipe.google_health.datatypes import BY_NAME, DATA_TYPES
from fitpipe.google_health.errors import ApiError, EndpointGone
from fitpipe.google_health.grants import StaticTokens
from fitpipe.google_health.windows import Window, window_of, windows_between
from tests.fakes import health_points as hp
from tests.fakes.google_health import FakeGoogleHealth
from tests.fakes.google_health_fixtures import NOW

ZONE = ZoneInfo("Europe/Berlin")


@pytest.fixture
def alice(fake: FakeGoogleHealth) -> StaticTokens:
    fake.add_user("alice")
    return StaticTokens(fake.issue_tokens("alice")["access_token"])


def _day(data_type: str, day: date) -> Window:
    return Window(BY_NAME[data_type], day, day + timedelta(days=1), ZONE)


@pytest.mark.parametrize("quirk", ["empty string", "absent", "empty first pages"])
def test_every_page_is_read_newest_first_whatever_the_last_token_looks_like(
    fake: FakeGoogleHealth,
    client: GoogleHealthClient,
    alice: StaticTokens,
    quirk: str,
) -> None:
    day = date(2026, 11, 10)
    window = _day("heart-rate", day)
    points = hp.heart_rate(window.start, 1000, timedelta(seconds=30))
    fake.add_points("alice", "heart-rate", points)
    fake.last_token_empty_string = quirk == "empty string"
    fake.empty_first_pages = quirk == "empty first pages"

    pages = list(client.list_pages(window, user=1, tokens=alice, page_size=300))

    got = [p["heartRate"]["sampleTime"]["physicalTime"] for page in pages for p in page]
    assert got == sorted((p["heartRate"]["sampleTime"]["physicalTime"] for p in points), reverse=True)
    assert [len(page) for page in pages if page] == [300, 300, 300, 100]
    if quirk == "empty first pages":
        assert [len(page) for page in pages].count(0) == 4


def test_the_window_filter_selects_exactly_its_local_days(
    fake: FakeGoogleHealth,
    client: GoogleHealthClient,
    alice: StaticTokens,
) -> None:
    start = datetime(2026, 11, 9, tzinfo=UTC)
    fake.add_points("alice", "steps", hp.steps(start, 3 * 1440))
    window = _day("steps", date(2026, 11, 10))
    got = [p for page in client.list_pages(window, user=1, tokens=alice) for p in page]
    stamps = [datetime.fromisoformat(p["steps"]["interval"]["startTime"].replace("Z", "+00:00")) for p in got]
    assert min(stamps) == window.start and max(stamps) == window.end - timedelta(minutes=1)
    assert len(got) == (window.end - window.start) // timedelta(minutes=1)


def test_the_api_accepts_the_filter_of_every_data_type(
    fake: FakeGoogleHealth,
    client: GoogleHealthClient,
    alice: StaticTokens,
) -> None:
    for data_type in DATA_TYPES:
        for window in windows_between(data_type, NOW - timedelta(days=40), NOW, ZONE):
            list(client.list_pages(window, user=1, tokens=alice, now=NOW))
    assert {r.status for r in fake.requests("alice")} == {200}
    sleep_filters = {r.params["filter"] for r in fake.requests("alice", path="/sleep/")}
    assert all(f.startswith("sleep.interval.end_time >=") for f in sleep_filters)
    assert {r.params["pageSize"] for r in fake.requests("alice", path="/sleep/")} == {"25"}


def test_a_filter_the_api_refuses_is_an_error_naming_its_reason(
    fake: FakeGoogleHealth,
    client: GoogleHealthClient,
    alice: StaticTokens,
) -> None:
    wrong = replace(BY_NAME["sleep"], time="interval")  # sleep filtered by start time: the API refuses it
    with pytest.raises(ApiError, match="INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER") as caught:
        list(client.list_pages(window_of(wrong, NOW.date(), ZONE), user=1, tokens=alice))
    assert caught.value.status == 400


def test_identity_gives_the_stable_health_user_id(
    fake: FakeGoogleHealth,
    client: GoogleHealthClient,
    alice: StaticTokens,
) -> None:
    identity = client.identity(user=1, tokens=alice)
    assert identity.health_user_id == fake.users["alice"].health_user_id
    assert identity.legacy_user_id == fake.users["alice"].legacy_user_id


def test_a_retired_fitbit_web_api_endpoint_is_a_clear_error(
    fake: FakeGoogleHealth,
    client: GoogleHealthClient,
    alice: StaticTokens,
) -> None:
    with pytest.raises(EndpointGone, match="410") as caught:
        client.get("/1/user/-/activities/heart/date/today/1d.json", user=1, tokens=alice)
    assert "switched off on 30 Oct 2026" in (caught.value.hint or "")
