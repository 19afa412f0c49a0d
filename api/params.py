"""Query and path parameters shared by the participant, adherence and contact routes, typed so that the
OpenAPI document says what a valid value looks like (and FastAPI refuses the rest with a 422 naming it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path, Query

__all__ = [
    "STUDY_PATTERN",
    "USER_PATTERN",
    "StudyQuery",
    "OptionalStudyQuery",
    "UserIdPath",
    "UserIdsQuery",
    "StartDateQuery",
    "EndDateQuery",
]

# The CHECK constraints of studies.name and participants.external_id (sql/0001_core.sql).
STUDY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"

StudyQuery = Annotated[str, Query(description="Study name.", pattern=STUDY_PATTERN)]
OptionalStudyQuery = Annotated[
    str | None,
    Query(description="Study, when the participant id exists in several of yours.", pattern=STUDY_PATTERN),
]
UserIdPath = Annotated[str, Path(description="The participant id the study uses.", pattern=USER_PATTERN)]
UserIdsQuery = Annotated[
    list[str] | None,
    Query(
        description="Only these participants (repeatable); default: the whole study.", pattern=USER_PATTERN
    ),
]
StartDateQuery = Annotated[
    date | None, Query(description="First local day (YYYY-MM-DD); default: 29 days before end_date.")
]
EndDateQuery = Annotated[
    date | None,
    Query(
        description="Last local day, inclusive; default: each participant's last complete day "
        "(yesterday in their time zone, or the last day of their enrolment)."
    ),
]
