"""The cohort grid's rows against the real API: with the study's thresholds the flags are the API's, and
thresholds edited on the page re-evaluate them the way the API defines them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fitpipe.contracts import ParticipantsAnswer
from fitpipe_dashboard.callbacks.cohort import render_cohort
from fitpipe_dashboard.client import ApiClient
from fitpipe_dashboard.cohort import Thresholds, what_if_flags
from fitpipe_dashboard.stores import decode_store, dump
from tests.dashboard.cohort import STUDY
from tests.dashboard.conftest import Stack

pytestmark = pytest.mark.db


@pytest.fixture
def answer(stack: Stack) -> ParticipantsAnswer:
    with ApiClient(stack.api_url, stack.token) as client:
        stored = dump(client.participants())  # as the page stores it, and reads it back
    loaded = decode_store(ParticipantsAnswer, stored, "cohort-data")
    assert loaded is not None
    return loaded


def test_what_if_flags_under_the_studys_own_thresholds_are_the_apis_flags(answer: ParticipantsAnswer) -> None:
    rules = answer.rules[STUDY]
    for p in answer.participants:
        assert what_if_flags(p, Thresholds.of(rules), rules, answer.generated_at) == p.flags, p.user_id


def test_lowering_the_adherence_threshold_below_a_participants_adherence_clears_low_wear(
    answer: ParticipantsAnswer,
) -> None:
    rules = answer.rules[STUDY]
    p02 = next(p for p in answer.participants if p.user_id == "P02")
    assert "low_wear" in p02.flags and p02.adherence.adherence_pct is not None
    relaxed = replace(Thresholds.of(rules), min_adherence_pct=p02.adherence.adherence_pct - 1)
    rows, counts = render_cohort(answer, STUDY, relaxed, cooldown_hours=72)
    row = next(r for r in rows if r.user_id == "P02")
    assert "low_wear" not in row.flags.split() and "no_upload" in row.flags.split()
    _, before = render_cohort(answer, STUDY, Thresholds.of(rules), cooldown_hours=72)
    assert counts.participants == before.participants == len(answer.participants)


def test_counts_name_enrolled_flagged_and_syncing_today(answer: ParticipantsAnswer) -> None:
    rows, counts = render_cohort(answer, STUDY, None, cooldown_hours=72)
    people = answer.participants
    assert counts.enrolled == sum(1 for p in people if p.status == "active")
    assert counts.flagged == sum(1 for p in people if p.flags)
    # P01 and P04 synced within the day; P02 stopped 3 days ago; P03 never connected
    assert counts.syncing_today == 2
