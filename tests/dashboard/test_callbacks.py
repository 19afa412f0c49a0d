"""The words the callbacks build from typed answers (fitpipe_dashboard/callbacks/): a contact outcome, and
why a participant's range is empty."""

from __future__ import annotations

from datetime import UTC, datetime

from fitpipe.adherence_rules import AdherenceRules
from fitpipe.contracts import ContactResult, ParticipantDetail
from fitpipe_dashboard.callbacks.contact import outcome_words
from fitpipe_dashboard.callbacks.participant import empty_reason
from tests.dashboard.answers import adherence_json, participant_json

NOW = datetime(2024, 1, 10, 12, tzinfo=UTC)


def _result(**fields: object) -> ContactResult:
    return ContactResult.model_validate(
        {"user_id": "P02", "study": "trial", "status": "sent", "reasons": ["no_upload"], "forced": False}
        | fields
    )


def test_a_contact_outcome_says_what_happened_or_would_happen() -> None:
    assert outcome_words(_result(), NOW) == "sent"
    assert outcome_words(_result(status="preview", would_be="sent", forced=True), NOW) == (
        "will be emailed (cooldown overridden)"
    )
    refused = _result(
        status="refused", last_contacted="2024-01-10T09:00:00Z", retry_after="2024-01-13T09:00:00+00:00"
    )
    assert outcome_words(refused, NOW) == (
        "skipped: emailed 3 h ago, within the cooldown (until 2024-01-13 09:00 UTC); tick force to send anyway"
    )
    failed = _result(status="preview", would_be="failed", error="no email address on file")
    assert outcome_words(failed, NOW) == "cannot be emailed: no email address on file"
    assert outcome_words(_result(status="failed"), NOW) == "failed: unknown error"


def _detail(**changes: object) -> ParticipantDetail:
    days = adherence_json(("P01", [], [], []))["participants"][0]["days"]
    return ParticipantDetail.model_validate(
        participant_json("P01")
        | {"sources": [], "contacts": [], "rules": AdherenceRules().model_dump(mode="json"), "days": days}
        | changes
    )


def test_an_empty_range_says_whether_the_device_synced_since_or_was_not_worn() -> None:
    p = _detail()  # newest sample 2024-01-10T11:00Z
    assert empty_reason(p, "2024-01-11", "2024-01-12") == (
        "no heart rate between 2024-01-11 and 2024-01-12: the newest sample is from 2024-01-10 11:00 UTC "
        "— the device has not synced since"
    )
    assert empty_reason(p, "2024-01-10", "2024-01-10") == "no heart rate on 2024-01-10 — device not worn"
    never = _detail(latest_sample=None, source_status="none")
    assert empty_reason(never, "2024-01-10", "2024-01-10", "sleep") == (
        "no sleep on 2024-01-10: no data has arrived from this participant yet (none)"
    )
    assert empty_reason(None, "2024-01-10", "2024-01-11") == "no heart rate between 2024-01-10 and 2024-01-11"
