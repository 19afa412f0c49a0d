"""A small study loaded relative to now through the real loader, for the dashboard's tests and screenshots:
P01 fine (with a short walking gap that imputation fills and a non-wear gap), P02 stopped syncing 3 days ago,
P03 never connected, P04 needs re-consent; sleep with stages, daily metrics, a failed ingest run, quarantine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from fitpipe.participants import Participant, add_participant
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.pipeline.runs import RunRecorder
from fitpipe_ingest.records import ParsedFile, SampleBatch, SleepSession, SleepStage
from tests.api.factories import (
    add_source,
    load_samples,
    local_midnight,
    set_enrolment,
    today_in,
    worn_seconds,
)

STUDY = "trial"
P01_ZONE = "America/New_York"
WALK = (8 * 60, 30)
"""(first local minute of yesterday, minutes): heart rate missing while steps go on → imputed."""
OFF = (13 * 60, 90)
"""Heart rate and steps missing: non-wear, shaded and left empty."""
STAGES = ("light", "deep", "light", "rem", "wake", "light", "deep", "rem")


def _enrol(db: psycopg.Connection, user: str, days_ago: int, tz: str = "UTC") -> tuple[Participant, datetime]:
    p, _ = add_participant(db, user, STUDY, timezone=tz, email=f"{user.lower()}@example.org")
    start = local_midnight(today_in(tz) - timedelta(days=days_ago), tz).astimezone(UTC)
    set_enrolment(db, p, start)
    return p, start


def _load(db: psycopg.Connection, p: Participant, parsed: ParsedFile) -> None:
    load_parsed_file(
        db,
        parsed,
        {None: p},
        FileIdentity(parsed.file, 1, parsed.file),
        LoadOptions(source="test", lag=timedelta(hours=1)),
    )


def _nights(db: psycopg.Connection, p: Participant, days: list[date]) -> None:
    sessions = []
    for i, night in enumerate(days):
        end = local_midnight(night, p.timezone) + timedelta(hours=6, minutes=40)
        start = end - timedelta(hours=7, minutes=30)
        stages, at = [], start
        for j, level in enumerate(STAGES * 2):
            seconds = 60 * (20 + 10 * ((i + j) % 4))
            stages.append(SleepStage(at, seconds, level))
            at += timedelta(seconds=seconds)
        sessions.append(
            SleepSession(
                start,
                end,
                night,
                True,
                "sleep.json",
                f"record {i}",
                minutes_asleep=420,
                minutes_awake=30,
                efficiency=93,
                sleep_type="stages",
                stages=stages,
            )
        )
    _load(db, p, ParsedFile(f"sleep-{p.external_id}.json", "sleep", sleep=sessions))


def _daily(db: psycopg.Connection, p: Participant, metric: str, days: list[date], values: np.ndarray) -> None:
    load_samples(db, p, metric, [local_midnight(d, p.timezone) for d in days], values)


def load_study(db: psycopg.Connection, database_url: str) -> dict[str, Participant]:
    now = datetime.now(UTC)
    p01, start = _enrol(db, "P01", 4, P01_ZONE)
    yesterday = today_in(P01_ZONE) - timedelta(days=1)
    y0 = local_midnight(yesterday, P01_ZONE)
    walk = (y0 + timedelta(minutes=WALK[0]), y0 + timedelta(minutes=WALK[0] + WALK[1]))
    off = (y0 + timedelta(minutes=OFF[0]), y0 + timedelta(minutes=OFF[0] + OFF[1]))
    ts = worn_seconds(start, now - timedelta(minutes=20), 10, off=[walk, off])
    secs = (ts - ts[0]).total_seconds().to_numpy()
    rng = np.random.default_rng(4)
    hr = 66 + 10 * np.sin(2 * np.pi * (secs / 3600 - 9) / 24) + rng.normal(0, 2, secs.size)
    load_samples(db, p01, "heart_rate", ts, np.round(hr))
    minutes = worn_seconds(start, now - timedelta(minutes=20), 60, off=[off])
    load_samples(db, p01, "steps", minutes, np.where(np.arange(minutes.size) % 3 == 0, 40.0, 5.0))
    add_source(db, p01, last_success_at=now - timedelta(hours=1))
    days = [yesterday - timedelta(days=k) for k in range(4)][::-1]
    _nights(db, p01, days)
    _daily(db, p01, "resting_heart_rate", days, np.array([58.0, 57, 59, 56]))
    _daily(db, p01, "sleep_minutes", days, np.array([420.0, 390, 450, 405]))
    _daily(db, p01, "spo2_daily", days, np.array([96.0, 95.5, 97, 96]))
    _daily(db, p01, "hrv_daily_rmssd", days, np.array([41.0, 38, 45, 40]))
    _daily(db, p01, "breathing_rate", days, np.array([14.0, 14.5, 13.8, 14.2]))

    p02, start = _enrol(db, "P02", 5)
    ts = worn_seconds(start, now - timedelta(days=3), 20)
    load_samples(db, p02, "heart_rate", ts, np.full(len(ts), 72.0))
    add_source(db, p02, last_success_at=now - timedelta(days=3))
    bad = ts[:3]
    _load(
        db,
        p02,
        ParsedFile(
            "hr-bad.json",
            "heart_rate",
            [
                SampleBatch(
                    "heart_rate",
                    (bad.as_unit("us").asi8 + 5_000_000).astype(np.int64),
                    np.array([400.0, 0.0, 310.0]),
                    "hr-bad.json",
                )
            ],
        ),
    )

    _enrol(db, "P03", 2)
    p04, start = _enrol(db, "P04", 1)
    ts = worn_seconds(start, now - timedelta(minutes=30), 30)
    load_samples(db, p04, "heart_rate", ts, np.full(len(ts), 80.0))
    add_source(db, p04, status="needs_reconsent", last_success_at=now - timedelta(hours=2))

    ok = RunRecorder(database_url, "daily")
    ok.finish(IngestSummary(), "success")
    failed = RunRecorder(database_url, "daily")
    failed.finish(IngestSummary(), "failed", "the inbox /srv/inbox/trial is not readable")
    return {"P01": p01, "P02": p02, "P04": p04}


def local_day(p: Participant, days_ago: int) -> str:
    return (today_in(p.timezone) - timedelta(days=days_ago)).isoformat()


__all__ = ["load_study", "STUDY", "P01_ZONE", "WALK", "OFF", "local_day"]
