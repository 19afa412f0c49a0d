"""GET /api/v1/adherence against the real database: per-day wear, steps and sleep checked against an independent
pandas count over the raw samples, DST days, enrolment windows, per-study rules, errors; the flag rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe.adherence_rules import AdherenceRules
from fitpipe.migrations import available_migrations
from fitpipe.participants import Participant, add_participant
from fitpipe_api.adherence import default_reasons, evaluate_flags
from fitpipe_api.queries.adherence import WindowSummary
from tests.api.conftest import Tokens, auth
from tests.api.factories import add_night, load_samples, local_midnight, set_enrolment, worn_seconds

pytestmark = pytest.mark.db
URL = "/api/v1/adherence"
NY = "America/New_York"
FIRST, LAST = date(2024, 3, 8), date(2024, 3, 11)  # 2024-03-10 is 23 hours long in New York


@pytest.fixture
def c1(db: psycopg.Connection) -> Participant:
    """Study a, New York, enrolled from the afternoon of 2024-03-08 to midnight starting 2024-03-12, with heart
    rate from a day before to a day after (irregular, off the wrist now and then), steps, and sleep."""
    p, _ = add_participant(db, "C1", "a", timezone=NY, email="c1@example.org")
    rng = np.random.default_rng(3)
    m = lambda d, h=0.0: local_midnight(d, NY) + timedelta(hours=h)  # noqa: E731
    off = [
        (m(FIRST, 1), m(FIRST, 9.3)),
        (m(date(2024, 3, 9), 20), m(date(2024, 3, 10), 11)),
        (m(date(2024, 3, 10), 14), m(date(2024, 3, 10), 21)),
        (m(LAST, 0.5), m(LAST, 1.2)),
    ]
    ts = worn_seconds(m(date(2024, 3, 7)), m(date(2024, 3, 13)), 15, off)
    ts = ts[rng.random(ts.size) > 0.35]  # irregular sampling: some worn minutes have no sample
    load_samples(db, p, "heart_rate", ts, 55 + rng.integers(0, 60, ts.size))
    steps_at = pd.date_range(m(FIRST, 12), m(LAST, 12), freq="7min", inclusive="left")
    steps = rng.integers(0, 30, steps_at.size).astype(float)
    steps[
        (steps_at >= pd.Timestamp(m(date(2024, 3, 9)))) & (steps_at < pd.Timestamp(m(date(2024, 3, 10))))
    ] = 0.0  # a day on the table
    steps[
        (steps_at >= pd.Timestamp(m(date(2024, 3, 9), 10)))
        & (steps_at < pd.Timestamp(m(date(2024, 3, 9), 10.3)))
    ] = 10.0
    load_samples(db, p, "steps", steps_at, steps)
    set_enrolment(db, p, m(FIRST, 13), m(LAST + timedelta(days=1)))
    for night in (FIRST, date(2024, 3, 9), LAST):
        add_night(db, p, night)
    add_night(db, p, date(2024, 3, 10), main=False)  # a nap is not a night's sleep
    return p


def _raw(db: psycopg.Connection, user: str, metric: str) -> pd.DataFrame:
    rows = db.execute(
        'SELECT "timestamp", value FROM raw_data WHERE user_id = %s AND metric_name = %s ORDER BY 1',
        (user, metric),
    ).fetchall()
    df = pd.DataFrame(rows, columns=["ts", "value"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def _expected_days(
    db: psycopg.Connection, user: str, tz: str, days: list[date], rules: AdherenceRules
) -> pd.DataFrame:
    """The per-day figures computed straight from the raw samples."""
    hr = _raw(db, user, "heart_rate")
    minutes = pd.Series(hr["ts"].dt.floor("min").unique())
    wear = minutes.dt.tz_convert(tz).dt.date.value_counts()
    per_hour = minutes.groupby(minutes.dt.floor("h")).size()
    valid_hours = (
        pd.Series(per_hour[per_hour >= rules.valid_hour_minutes].index)
        .dt.tz_convert(tz)
        .dt.date.value_counts()
    )
    st = _raw(db, user, "steps")
    steps = st.groupby(st["ts"].dt.tz_convert(tz).dt.date)["value"].sum()
    out = pd.DataFrame(index=days)
    out["wear_minutes"] = [int(wear.get(d, 0)) for d in days]
    out["day_minutes"] = [
        int(
            (pd.Timestamp(d + timedelta(days=1)).tz_localize(tz) - pd.Timestamp(d).tz_localize(tz))
            / pd.Timedelta(minutes=1)
        )
        for d in days
    ]
    out["valid_hours"] = [int(valid_hours.get(d, 0)) for d in days]
    out["steps"] = [None if d not in steps.index else round(steps[d]) for d in days]
    return out


def _participant(body: dict, user: str) -> dict:
    [entry] = [p for p in body["participants"] if p["user_id"] == user]
    return entry


def test_days_match_an_independent_count_of_the_raw_samples(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, c1: Participant
) -> None:
    r = client.get(URL, params={"study": "a", "valid_hours": True}, headers=auth(tokens.coordinator_a))
    assert r.status_code == 200, r.text
    entry = _participant(r.json(), "C1")
    days = entry["days"]
    window = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    assert [
        date.fromisoformat(d) for d in days["date"]
    ] == window  # the whole enrolment window, nothing outside it
    rules = AdherenceRules()
    want = _expected_days(db, "C1", NY, window, rules)
    assert days["wear_minutes"] == want["wear_minutes"].tolist()
    assert days["day_minutes"] == want["day_minutes"].tolist()
    assert 1380 in days["day_minutes"]  # the spring-forward day is in the window
    np.testing.assert_allclose(
        days["wear_pct"], 100 * want["wear_minutes"] / want["day_minutes"], atol=0.0051
    )  # rounded to 2 decimals
    assert days["valid_day"] == (want["wear_minutes"] >= rules.valid_day_minutes).tolist()
    assert True in days["valid_day"] and False in days["valid_day"]
    assert days["valid_hours"] == want["valid_hours"].tolist()
    assert days["steps"] == want["steps"].tolist()
    assert days["low_steps"] == [None if s is None else s < rules.low_steps for s in want["steps"]]
    assert True in days["low_steps"]
    nights = {
        r[0]
        for r in db.execute(
            "SELECT local_date FROM sleep_sessions WHERE participant_id = %s AND is_main_sleep", (c1.id,)
        ).fetchall()
    }
    assert days["sleep_recorded"] == [d in nights for d in window]


def test_valid_hours_are_only_counted_when_asked_for(
    client: TestClient, tokens: Tokens, c1: Participant
) -> None:
    days = _participant(client.get(URL, params={"study": "a"}, headers=auth(tokens.admin)).json(), "C1")[
        "days"
    ]
    assert days["valid_hours"] is None and len(days["date"]) == 4
    detail = client.get("/api/v1/participants/C1", headers=auth(tokens.admin)).json()["days"]
    assert len(detail["valid_hours"]) == 4  # one participant: always counted


def test_overall_adherence_is_wear_over_the_enrolment_minutes(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, c1: Participant
) -> None:
    entry = _participant(client.get(URL, params={"study": "a"}, headers=auth(tokens.admin)).json(), "C1")
    window = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    want = _expected_days(db, "C1", NY, window, AdherenceRules())
    overall = entry["adherence"]
    assert overall["wear_minutes"] == want["wear_minutes"].sum()
    assert overall["enrolled_minutes"] == want["day_minutes"].sum() == 4 * 1440 - 60
    assert overall["adherence_pct"] == pytest.approx(
        100 * want["wear_minutes"].sum() / want["day_minutes"].sum(),
        abs=0.0051,  # rounded to 2 decimals
    )
    assert overall["valid_days"] == int((want["wear_minutes"] >= 600).sum())
    assert entry["window"] == {"first_day": str(FIRST), "last_day": str(LAST), "days": len(window)}
    assert entry["flags_apply"] is False and entry["flags"] == []  # enrolment has ended


def test_a_fall_back_day_has_1500_minutes_and_days_without_data_count_zero(
    client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    p, _ = add_participant(db, "L1", "a", timezone="Europe/London")
    set_enrolment(
        db,
        p,
        local_midnight(date(2024, 10, 26), "Europe/London"),
        local_midnight(date(2024, 10, 29), "Europe/London"),
    )
    entry = _participant(
        client.get(URL, params={"study": "a", "user_id": "L1"}, headers=auth(tokens.admin)).json(), "L1"
    )
    assert entry["days"]["day_minutes"] == [1440, 1500, 1440]
    assert entry["days"]["wear_minutes"] == [0, 0, 0]
    assert entry["days"]["steps"] == [None] * 3 and entry["days"]["low_steps"] == [None] * 3
    assert entry["adherence"] == {
        "wear_minutes": 0,
        "enrolled_minutes": 4380,
        "adherence_pct": 0.0,
        "valid_days": 0,
        "days": 3,
    }


@pytest.mark.parametrize(("start", "end"), [("2024-11-01", "2024-11-05"), ("2024-03-08", "2024-11-05")])
def test_valid_hours_follow_local_days_across_dst_changes(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, start: str, end: str
) -> None:
    """One DST change in the span (fall back: a 25-hour day), and two (spring forward and fall back)."""
    p, _ = add_participant(db, "D1", "a", timezone=NY)
    m = lambda d, h=0.0: local_midnight(d, NY) + timedelta(hours=h)  # noqa: E731
    for first, last in ((date(2024, 3, 8), date(2024, 3, 12)), (date(2024, 11, 1), date(2024, 11, 6))):
        off = [
            (m(first + timedelta(days=i), 1.5 + i), m(first + timedelta(days=i), 4.75 + i)) for i in range(5)
        ]
        ts = worn_seconds(m(first), m(last), 60, off)
        load_samples(db, p, "heart_rate", ts, np.full(len(ts), 66.0))
    set_enrolment(db, p, m(date(2024, 3, 8)), m(date(2024, 11, 6)))
    body = client.get(
        URL,
        params={"study": "a", "user_id": "D1", "start_date": start, "end_date": end, "valid_hours": True},
        headers=auth(tokens.admin),
    ).json()
    days = _participant(body, "D1")["days"]
    window = [date.fromisoformat(d) for d in days["date"]]
    assert window[0] == date.fromisoformat(start) and window[-1] == date.fromisoformat(end)
    want = _expected_days(db, "D1", NY, window, AdherenceRules())
    assert days["valid_hours"] == want["valid_hours"].tolist()
    assert days["day_minutes"] == want["day_minutes"].tolist() and 1500 in days["day_minutes"]


def test_a_participant_without_data_or_enrolment_has_no_days_and_no_adherence(
    client: TestClient, tokens: Tokens
) -> None:
    entry = _participant(client.get(URL, params={"study": "a"}, headers=auth(tokens.admin)).json(), "A2")
    assert entry["days"]["date"] == []
    assert entry["window"]["first_day"] is None
    assert entry["adherence"]["adherence_pct"] is None
    assert "low_wear" not in entry["flags"]


def test_without_enrolment_start_the_window_opens_at_the_first_sample(
    client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    params = {"study": "a", "user_id": "A1", "start_date": "2023-12-01", "end_date": "2024-01-31"}
    entry = _participant(client.get(URL, params=params, headers=auth(tokens.admin)).json(), "A1")
    first = _raw(db, "A1", "heart_rate")["ts"].min().tz_convert(NY).date()
    assert entry["window"]["first_day"] == str(first)
    assert entry["days"]["date"][0] == str(first)


def test_start_and_end_date_select_days_inside_the_window(
    client: TestClient, tokens: Tokens, c1: Participant
) -> None:
    def dates(**params: str) -> list[str]:
        body = client.get(
            URL, params={"study": "a", "user_id": "C1", **params}, headers=auth(tokens.admin)
        ).json()
        return _participant(body, "C1")["days"]["date"]

    assert dates(start_date="2024-03-01", end_date="2024-03-09") == ["2024-03-08", "2024-03-09"]
    assert dates(start_date="2024-03-10") == ["2024-03-10", "2024-03-11"]
    assert dates(end_date="2024-03-09") == ["2024-03-08", "2024-03-09"]
    assert dates(start_date="2024-04-01", end_date="2024-04-02") == []


def test_a_study_can_change_the_definitions(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, c1: Participant
) -> None:
    db.execute(
        """UPDATE studies SET settings = '{"adherence": {"valid_day_minutes": 1000, "low_steps": 5000}}' WHERE name = 'a'"""
    )
    body = client.get(URL, params={"study": "a", "user_id": "C1"}, headers=auth(tokens.admin)).json()
    assert body["rules"]["valid_day_minutes"] == 1000
    days = _participant(body, "C1")["days"]
    assert days["valid_day"] == [w >= 1000 for w in days["wear_minutes"]]
    assert days["low_steps"] == [None if s is None else s < 5000 for s in days["steps"]]


def test_invalid_study_settings_are_reported_with_the_name_to_fix(
    client: TestClient, tokens: Tokens, db: psycopg.Connection
) -> None:
    db.execute(
        """UPDATE studies SET settings = '{"adherence": {"valid_day_minute": 500}}' WHERE name = 'a'"""
    )
    r = client.get(URL, params={"study": "a"}, headers=auth(tokens.admin))
    assert r.status_code == 400
    assert "valid_day_minute" in r.json()["detail"] and "'a'" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({}, 422, "study"),
        ({"study": "a", "start_date": "2024-03-10", "end_date": "2024-03-01"}, 422, "start_date"),
        ({"study": "a", "start_date": "March"}, 422, "start_date"),
        ({"study": "a", "start_date": "2023-01-01", "end_date": "2024-06-01"}, 422, "at most"),
        ({"study": "nope"}, 404, "no study"),
        ({"study": "b"}, 404, "no study"),
        ({"study": "a", "user_id": "B1"}, 404, "no participant"),
    ],
)
def test_bad_requests_get_clear_errors(
    client: TestClient, tokens: Tokens, params: dict[str, str], status: int, needle: str
) -> None:
    r = client.get(URL, params=params, headers=auth(tokens.coordinator_a))
    assert r.status_code == status, r.text
    assert needle in r.text


def test_reading_adherence_is_audited_for_every_participant(
    client: TestClient, tokens: Tokens, db: psycopg.Connection, c1: Participant
) -> None:
    client.get(URL, params={"study": "a"}, headers={**auth(tokens.analyst_a), "X-Request-ID": "adh-1"})
    audited = {
        r[0]
        for r in db.execute(
            "SELECT participant_id FROM audit_log WHERE action = 'read_adherence' AND client_request_id = 'adh-1'"
        ).fetchall()
    }
    study_a = {
        r[0]
        for r in db.execute(
            "SELECT p.id FROM participants p JOIN studies s ON s.id = p.study_id WHERE s.name = 'a'"
        ).fetchall()
    }
    assert audited == study_a


# --- the flag rules, on summaries built by hand -------------------------------------------------------------
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def _summary(**changes: Any) -> WindowSummary:
    """A participant doing fine: enrolled 30 days, 90 % wear, synced an hour ago, a main sleep every night."""
    base = WindowSummary(
        participant_id=1,
        user_id="X",
        timezone="UTC",
        status="active",
        created_at=NOW - timedelta(days=40),
        enrolment_start=NOW - timedelta(days=30),
        enrolment_end=None,
        enrolled_since=date(2024, 5, 2),
        first_day=date(2024, 5, 2),
        last_day=date(2024, 5, 31),
        enrolled_minutes=30 * 1440,
        enrolled_days=30,
        wear_minutes=int(0.9 * 30 * 1440),
        valid_days=28,
        latest_sample=NOW - timedelta(hours=2),
        last_sync=NOW - timedelta(hours=1),
        sources=[{"source": "google_health", "status": "active"}],
        nights_considered=7,
        nights_recorded=7,
        last_contacted=None,
    )
    return replace(base, **changes)


def _flags(**changes: object) -> list[str]:
    return [f.name for f in evaluate_flags(_summary(**changes), AdherenceRules(), NOW)]


def test_a_participant_doing_fine_has_no_flag() -> None:
    assert _flags() == []


@pytest.mark.parametrize(("recorded", "flagged"), [(5, False), (4, True), (0, True)])
def test_low_sleep_is_fewer_than_five_of_the_last_seven_nights(recorded: int, flagged: bool) -> None:
    assert ("low_sleep" in _flags(nights_recorded=recorded)) is flagged


def test_a_newcomer_is_flagged_for_sleep_once_more_nights_are_missing_than_allowed() -> None:
    assert _flags(nights_considered=3, nights_recorded=1) == []
    assert _flags(nights_considered=3, nights_recorded=0) == ["low_sleep"]


@pytest.mark.parametrize(("pct", "flagged"), [(70.0, False), (69.9, True)])
def test_low_wear_is_adherence_under_seventy_percent(pct: float, flagged: bool) -> None:
    assert ("low_wear" in _flags(wear_minutes=round(pct / 100 * 30 * 1440))) is flagged


def test_no_upload_says_whether_the_samples_or_the_syncs_are_stale() -> None:
    def tripped(**changes: object) -> list[str]:
        [flag] = [
            f for f in evaluate_flags(_summary(**changes), AdherenceRules(), NOW) if f.name == "no_upload"
        ]
        return flag.detail["tripped_by"]

    old = NOW - timedelta(hours=49)
    assert tripped(latest_sample=old) == ["latest_sample"]
    assert tripped(last_sync=old) == ["last_sync"]
    assert tripped(latest_sample=None, last_sync=None) == ["latest_sample", "last_sync"]
    assert "no_upload" not in _flags(latest_sample=NOW - timedelta(hours=47))


def test_a_newcomer_gets_the_whole_upload_window_first() -> None:
    assert "no_upload" not in _flags(
        enrolment_start=NOW - timedelta(hours=20), latest_sample=None, last_sync=None
    )


@pytest.mark.parametrize(
    ("sources", "latest", "flagged"),
    [
        ([], None, True),
        ([{"source": "google_health", "status": "configured"}], None, True),
        ([{"source": "google_health", "status": "needs_reconsent"}], NOW - timedelta(hours=1), True),
        ([{"source": "google_health", "status": "error"}], None, False),
        ([], NOW - timedelta(hours=1), False),  # loaded by hand: data without a source row
    ],
)
def test_no_source_means_no_usable_data_source(sources: list, latest: datetime | None, flagged: bool) -> None:
    assert ("no_source" in _flags(sources=sources, latest_sample=latest)) is flagged


def test_participants_who_left_the_study_are_not_flagged() -> None:
    assert _flags(status="withdrawn", wear_minutes=0) == []
    assert _flags(enrolment_end=NOW - timedelta(days=1), wear_minutes=0) == []


def test_an_email_about_a_missing_source_names_only_that() -> None:
    flags = evaluate_flags(_summary(sources=[], latest_sample=None, wear_minutes=0), AdherenceRules(), NOW)
    assert {f.name for f in flags} == {"no_source", "no_upload", "low_wear"}
    assert default_reasons(flags) == ["no_source"]


def test_the_adherence_migration_can_run_again(db: psycopg.Connection) -> None:
    sql = next(m for m in available_migrations() if m.name == "adherence").sql
    db.execute(sql)
    indexes = {
        r[0]
        for r in db.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%wear' OR indexname LIKE '%nights'"
        )
    }
    assert {"rollup_1h_heart_rate_wear", "rollup_1d_heart_rate_wear", "sleep_sessions_main_nights"} <= indexes
