"""API answers built by hand as the API writes them (JSON), for tests of the dashboard's pure parts."""

from __future__ import annotations

from typing import Any

from fitpipe.adherence_rules import AdherenceRules
from fitpipe.contracts import ParticipantsAnswer

__all__ = ["participant_json", "participants_json", "participants_answer", "adherence_json"]


def participant_json(user_id: str = "P01", study: str = "trial", **changes: Any) -> dict[str, Any]:
    """One /participants entry: active, 80 % adherence, synced an hour before 2024-01-10T12:00Z."""
    return {
        "user_id": user_id,
        "study": study,
        "timezone": "Europe/Berlin",
        "status": "active",
        "enrolment_start": "2024-01-01T00:00:00Z",
        "enrolment_end": None,
        "window": {"first_day": "2024-01-01", "last_day": "2024-01-09", "days": 9},
        "adherence": {
            "wear_minutes": 10368,
            "enrolled_minutes": 12960,
            "adherence_pct": 80.0,
            "valid_days": 8,
            "days": 9,
        },
        "sleep": {"nights_recorded": 6, "nights_considered": 7},
        "latest_sample": "2024-01-10T11:00:00Z",
        "last_sync": "2024-01-10T11:00:00Z",
        "source_status": "active",
        "flags_apply": True,
        "flags": [],
        "flag_details": {},
        "last_contacted": None,
    } | changes


def participants_json(*people: dict[str, Any]) -> dict[str, Any]:
    studies = {p["study"] for p in people} or {"trial"}
    return {
        "generated_at": "2024-01-10T12:00:00Z",
        "rules": {s: AdherenceRules().model_dump(mode="json") for s in sorted(studies)},
        "participants": list(people),
    }


def participants_answer(*people: dict[str, Any]) -> ParticipantsAnswer:
    return ParticipantsAnswer.model_validate(participants_json(*people))


def adherence_json(*people: tuple[str, list[str], list[float | None], list[bool]]) -> dict[str, Any]:
    """A GET /adherence answer: (user_id, local days, wear %, valid day) per participant."""
    participants = []
    for user_id, days, pct, valid in people:
        n = len(days)
        participants.append(
            participant_json(user_id)
            | {
                "days": {
                    "date": days,
                    "wear_minutes": [0] * n,
                    "day_minutes": [1440] * n,
                    "wear_pct": pct,
                    "valid_day": valid,
                    "valid_hours": None,
                    "steps": [None] * n,
                    "low_steps": [None] * n,
                    "sleep_recorded": [False] * n,
                }
            }
        )
    return {
        "study": "trial",
        "start_date": None,
        "end_date": None,
        "default_days": 30,
        "valid_hours": False,
        "generated_at": "2024-01-10T12:00:00Z",
        "rules": AdherenceRules().model_dump(mode="json"),
        "participants": participants,
    }
