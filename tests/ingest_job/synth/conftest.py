"""Small synthetic cohorts shared by the synth tests (written once per session, read by many tests)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from fitpipe_ingest.synth.cohort import CohortOptions, CohortResult, write_cohort
from tests.shared_data import shared

REAL_TAKEOUT = shared("realdata", "takeout-pixelwatch3-2025", "Fitbit")
REAL_WEARIPEDIA = shared("formats", "wearipedia")
PINNED_KINDS = ("excellent", "poor", "no_data")
PINNED_ZONES = ("Asia/Kolkata", "America/New_York", "Europe/London")


def write(out: Path, **options: Any) -> CohortResult:
    defaults: dict[str, Any] = {"participants": 3, "days": 3, "jobs": 1}
    return write_cohort(CohortOptions(out=out, **{**defaults, **options}))


def heart_rate_times(folder: Path) -> list[int]:
    """UTC epoch seconds of every heart-rate sample in a participant's Takeout folder."""
    stamps: list[int] = []
    for path in sorted((folder / "Fitbit" / "Global Export Data").glob("heart_rate-*.json")):
        stamps += [utc_seconds(r["dateTime"]) for r in json.loads(path.read_text())]
    return stamps


def utc_seconds(us_stamp: str) -> int:
    return int(datetime.strptime(us_stamp, "%m/%d/%y %H:%M:%S").replace(tzinfo=UTC).timestamp())


@pytest.fixture(scope="session")
def takeout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CohortResult]:
    """3 participants × 3 days (excellent in Kolkata, poor in New York, no data) as Takeout."""
    out = tmp_path_factory.mktemp("takeout")
    return out, write(out, kinds=PINNED_KINDS, zones=PINNED_ZONES)


@pytest.fixture(scope="session")
def wearipedia(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CohortResult]:
    out = tmp_path_factory.mktemp("wearipedia")
    return out, write(out, format="wearipedia", kinds=PINNED_KINDS, zones=PINNED_ZONES)


@pytest.fixture(scope="session")
def dst_takeout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """New York across both 2024 clock changes, every second: OUT/<start>/ for starts 9 March and 2 November."""
    out = tmp_path_factory.mktemp("dst")
    for start in (date(2024, 3, 9), date(2024, 11, 2)):
        write(
            out / start.isoformat(),
            participants=1,
            start=start,
            kinds=("excellent",),
            zones=("America/New_York",),
            dense=True,
        )
    return out
