"""The participant emails: every reason has words and a next step, several reasons make one numbered email."""

from __future__ import annotations

import pytest

from fitpipe.adherence_rules import FLAGS
from fitpipe.contact.templates import REASONS, render
from fitpipe.errors import InputError


def test_there_is_a_template_for_every_flag_in_the_flags_order() -> None:
    assert tuple(REASONS) == FLAGS


@pytest.mark.parametrize("reason", FLAGS)
def test_each_email_names_the_study_the_participant_and_what_to_do(reason: str) -> None:
    m = render("p@example.org", "heart-study", "P0042", [reason])
    assert m.to == "p@example.org" and m.reasons == (reason,)
    assert m.subject == f"Study heart-study: {REASONS[reason].headline}"
    assert "participant P0042" in m.body and "study heart-study" in m.body
    assert REASONS[reason].words({}) in m.body and f"What to do: {REASONS[reason].todo}" in m.body


def test_figures_from_the_flag_appear_in_the_words() -> None:
    m = render(
        "p@example.org",
        "s",
        "P1",
        ["low_wear", "low_sleep"],
        {
            "low_wear": {"adherence_pct": 61.4, "min_adherence_pct": 70},
            "low_sleep": {
                "nights_recorded": 3,
                "nights_considered": 7,
                "nights_wanted": 5,
                "window_nights": 7,
            },
        },
    )
    assert "61%" in m.body and "at least 70%" in m.body
    assert "3 of the last 7 nights" in m.body
    assert m.subject == "Study s: 2 things about your Fitbit"
    assert m.body.index("1. ") < m.body.index("sleep") < m.body.index("2. ") < m.body.index("heart rate")


def test_a_reconsent_is_worded_differently_from_a_missing_source() -> None:
    missing = render("p@example.org", "s", "P1", ["no_source"], {"no_source": {"sources": []}})
    expired = render(
        "p@example.org",
        "s",
        "P1",
        ["no_source"],
        {"no_source": {"sources": [{"source": "google_health", "status": "needs_reconsent"}]}},
    )
    assert "not connected" in missing.body and "expired" in expired.body


@pytest.mark.parametrize("reasons", [[], ["bored"]])
def test_no_reason_or_an_unknown_one_is_an_input_error(reasons: list[str]) -> None:
    with pytest.raises(InputError, match="reason"):
        render("p@example.org", "s", "P1", reasons)
