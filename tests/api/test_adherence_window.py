"""Overall adherence over the requested window (the example of docs/adherence.md): every overall figure of
/adherence and /participants/{user_id} with start_date/end_date is over the local days [max(enrolment start,
start_date), min(enrolment end, end_date, yesterday)], checked against an independent count; without them it
is the enrolment to date, as /participants and the flagged-participants metric behind the alerts use it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from fitpipe.participants import Participant, add_participant
from tests.api.conftest import Tokens, auth
from tests.api.factories import add_night, load_samples, local_midnight, set_enrolment

pytestmark = pytest.mark.db

ENROLLED = date(2016, 9, 1)
START, END = date(2016, 9, 16), date(2016, 10, 11)  # the request: 26 days
WORN_DAYS = [START + timedelta(days=i) for i in range(0, 26, 2)]  # 13 of the 26 days, 6 h each
WORN_MINUTES = 360


@pytest.fixture
def w1(db: psycopg.Connection) -> Participant:
    """Enrolled since 2016-09-01 (still enrolled): 6 h of heart rate on every other day of the window, a whole
    day before it and after it (which the window must leave out), main sleep on 5 of its last 7 nights."""
    p, _ = add_participant(db, "W1", "w", timezone="UTC")
    set_enrolment(db, p, local_midnight(ENROLLED, "UTC"))
    days = [*WORN_DAYS, START - timedelta(days=1), END + timedelta(days=1)]
    instants: list[datetime] = []
    for day in days:
        hours = 24 if day in (START - timedelta(days=1), END + timedelta(days=1)) else WORN_MINUTES // 60
        t0 = local_midnight(day, "UTC") + timedelta(hours=0 if hours == 24 else 8)
        instants += list(pd.date_range(t0, periods=hours * 60, freq="1min"))
    load_samples(db, p, "heart_rate", instants, np.full(len(instants), 70.0))
    for night in (END - timedelta(days=i) for i in (0, 1, 3, 4, 6)):
        add_night(db, p, night)
    return p


def _entry(client: TestClient, token: str, **params: str) -> dict:
    body = client.get("/api/v1/adherence", params={"study": "w", **params}, headers=auth(token)).json()
    [entry] = body["participants"]
    return entry


def test_overall_figures_are_over_the_requested_days(
    client: TestClient, tokens: Tokens, w1: Participant
) -> None:
    entry = _entry(client, tokens.admin, start_date=str(START), end_date=str(END))
    assert entry["window"] == {"first_day": str(START), "last_day": str(END), "days": 26}
    a = entry["adherence"]
    assert a["enrolled_minutes"] == 26 * 1440
    assert (
        a["wear_minutes"] == len(WORN_DAYS) * WORN_MINUTES
    )  # the whole days outside the window do not count
    assert a["adherence_pct"] == round(100 * 13 * 360 / (26 * 1440), 2) == 12.5
    assert a["valid_days"] == 0  # 6 h is less than a valid day (10 h)
    assert entry["sleep"] == {"nights_recorded": 5, "nights_considered": 7}  # the window's last 7 nights
    assert entry["days"]["date"][0] == str(START) and entry["days"]["date"][-1] == str(END)
    assert sum(entry["days"]["wear_minutes"]) == a["wear_minutes"]  # the days and the total agree
    assert entry["flag_details"]["low_wear"]["since"] == str(START)
    assert entry["flag_details"]["low_wear"]["until"] == str(END)
    assert "low_sleep" not in entry["flags"]  # 5 of the last 7 nights of the window


def test_the_window_is_cut_by_enrolment_on_both_sides(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, w1: Participant
) -> None:
    set_enrolment(db, w1, local_midnight(START + timedelta(days=10), "UTC"), local_midnight(END, "UTC"))
    entry = _entry(client, tokens.admin, start_date=str(START), end_date=str(END))
    first, last = (
        START + timedelta(days=10),
        END - timedelta(days=1),
    )  # enrolment ends at midnight starting END
    assert entry["window"] == {
        "first_day": str(first),
        "last_day": str(last),
        "days": (last - first).days + 1,
    }
    worn = [d for d in WORN_DAYS if first <= d <= last]
    assert entry["adherence"]["wear_minutes"] == len(worn) * WORN_MINUTES
    assert entry["adherence"]["enrolled_minutes"] == ((last - first).days + 1) * 1440


def test_one_participant_reads_the_same_window(client: TestClient, tokens: Tokens, w1: Participant) -> None:
    one = client.get(
        "/api/v1/participants/W1",
        params={"start_date": str(START), "end_date": str(END)},
        headers=auth(tokens.admin),
    ).json()
    listed = _entry(client, tokens.admin, start_date=str(START), end_date=str(END))
    for key in ("window", "adherence", "sleep", "flags"):
        assert one[key] == listed[key], key


def test_without_dates_the_window_is_the_enrolment_to_date(
    client: TestClient, tokens: Tokens, w1: Participant
) -> None:
    entry = _entry(client, tokens.admin)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert entry["window"]["first_day"] == str(ENROLLED) and entry["window"]["last_day"] == str(yesterday)
    assert entry["adherence"]["wear_minutes"] == (len(WORN_DAYS) * WORN_MINUTES + 2 * 1440)
    assert entry["adherence"]["enrolled_minutes"] == ((yesterday - ENROLLED).days + 1) * 1440
    assert entry["sleep"] == {"nights_recorded": 0, "nights_considered": 7}  # no sleep in the last 7 nights


def test_the_alerts_count_the_participants_the_cohort_page_flags(
    client: TestClient, tokens: Tokens, w1: Participant, db: psycopg.Connection
) -> None:
    add_participant(db, "W2", "w", timezone="UTC")  # no data, no enrolment: no_source only
    listed = client.get("/api/v1/participants", params={"study": "w"}, headers=auth(tokens.admin)).json()
    flagged = sum(1 for p in listed["participants"] if p["flags"])
    metrics = {
        (s.name, s.labels.get("study"), s.labels.get("state")): s.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
    }
    assert metrics[("fitpipe_participants", "w", "flagged")] == flagged == 2
