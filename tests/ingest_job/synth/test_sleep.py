"""Synthetic nights look like real ones, and their logs add up the way Fitbit's do."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe_ingest.synth.sleep import ASLEEP, AWAKE, RESTLESS, Sleep, sleep_log, stage_epochs

ZONE = ZoneInfo("Europe/London")


def test_stage_minutes_fall_in_the_ranges_of_real_nights() -> None:
    rng = np.random.default_rng(0)
    minutes: dict[str, list[int]] = {"deep": [], "light": [], "rem": [], "wake": []}
    for _ in range(40):
        log: Any = sleep_log(Sleep(1, 1_700_000_000, stage_epochs(rng, 900), True), ZONE, 1)
        for level, summary in log["levels"]["summary"].items():
            minutes[level].append(summary["minutes"])
    # the real Pixel Watch nights: deep 5–45, light 180–340, REM 14–110, wake 44–80 min in 6–9 h
    assert 20 <= np.mean(minutes["deep"]) <= 70
    assert 200 <= np.mean(minutes["light"]) <= 320
    assert 40 <= np.mean(minutes["rem"]) <= 120
    assert 40 <= np.mean(minutes["wake"]) <= 110


def test_a_nap_is_a_classic_log_that_adds_up() -> None:
    epochs = np.array(
        [RESTLESS] * 4 + [ASLEEP] * 150 + [AWAKE] * 2 + [ASLEEP] * 40 + [RESTLESS] * 5, dtype=np.int8
    )
    log: Any = sleep_log(Sleep(3, 1_700_000_000, epochs, main=False), ZONE, 42)
    assert (log["type"], log["infoCode"], log["mainSleep"]) == ("classic", 2, False)
    summary = log["levels"]["summary"]
    assert list(summary) == ["restless", "awake", "asleep"] and summary["asleep"]["count"] == 0
    assert summary["restless"]["count"] == 2 and summary["awake"]["count"] == 1
    assert log["minutesAsleep"] + log["minutesAwake"] + log["minutesAfterWakeup"] == log["timeInBed"]
    assert log["minutesAfterWakeup"] == 2  # the restless spell at the end
    assert log["duration"] == 100 * 60_000  # 201 epochs = 100.5 min, rounded down like Fitbit


def test_local_times_follow_the_clock_change() -> None:
    # 31 March 2024: London goes from GMT to BST at 01:00 UTC, during this night
    start = 1_711_843_200  # 2024-03-31 00:00 UTC
    log = sleep_log(Sleep(1, start, np.full(240, 1, dtype=np.int8), True), ZONE, 1)
    assert (log["startTime"], log["endTime"]) == ("2024-03-31T00:00:00.000", "2024-03-31T03:00:00.000")
    assert log["timeInBed"] == 120
