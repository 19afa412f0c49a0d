"""Query and path parameters shared by the participant, adherence and contact routes, typed so that the
OpenAPI document says what a valid value looks like (and FastAPI refuses the rest with a 422 naming it)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import Path, Query
from pydantic import StringConstraints

from fitpipe.errors import InputError
from fitpipe.participants import PARTICIPANT_PATTERN as _PARTICIPANT
from fitpipe.participants import STUDY_PATTERN as _STUDY
from fitpipe_api.queries.adherence import MAX_DAYS
from fitpipe_api.series import clamp_day

__all__ = [
    "STUDY_PATTERN",
    "USER_PATTERN",
    "StudyQuery",
    "OptionalStudyQuery",
    "UserIdPath",
    "UserIdsQuery",
    "UserIdQuery",
    "RequiredUserIdsQuery",
    "StartDateQuery",
    "EndDateQuery",
]

# The CHECK constraints of studies.name and participants.external_id (sql/0001_core.sql).
STUDY_PATTERN = _STUDY
USER_PATTERN = _PARTICIPANT

StudyQuery = Annotated[str, Query(description="Study name.", pattern=STUDY_PATTERN)]
OptionalStudyQuery = Annotated[
    str | None,
    Query(description="Study, when the participant id exists in several of yours.", pattern=STUDY_PATTERN),
]
UserIdPath = Annotated[str, Path(description="The participant id the study uses.", pattern=USER_PATTERN)]
UserIdsQuery = Annotated[
    list[Annotated[str, StringConstraints(pattern=USER_PATTERN)]] | None,
    Query(description="Only these participants (repeatable); default: the whole study."),
]
UserIdQuery = Annotated[
    str, Query(description="Participant id (the id the study uses).", pattern=USER_PATTERN)
]
RequiredUserIdsQuery = Annotated[
    list[Annotated[str, StringConstraints(pattern=USER_PATTERN)]],
    Query(description="Participant id (repeatable).", min_length=1),
]
StartDateQuery = Annotated[
    date | None,
    Query(
        description="First local day (YYYY-MM-DD): of the days listed (default: 29 days before end_date) and "
        "of the window every overall figure is computed over (default: the enrolment start)."
    ),
]
EndDateQuery = Annotated[
    date | None,
    Query(
        description="Last local day, inclusive, of the days listed and of the window of the overall figures; "
        "default: each participant's last complete day (yesterday in their time zone, or the last day of "
        "their enrolment)."
    ),
]

ValidHoursQuery = Annotated[
    bool,
    Query(
        description="Also count valid hours per day (hours with >= valid_hour_minutes wear minutes). Reads every "
        "heart-rate hour of the span, so a whole study answers slower; without it the column is null."
    ),
]


def check_day_range(start: date | None, end: date | None) -> tuple[date | None, date | None]:
    """The requested local days, clamped to the days a request may name (fitpipe_api.series: far-off dates
    read as the earliest or latest such day, never overflow). start_date after end_date, or more than
    MAX_DAYS days, is an InputError (422) naming start_date."""
    if start and end:
        if start > end:
            raise InputError(
                f"start_date {start} is after end_date {end}",
                field="start_date",
                hint="send start_date on or before end_date (both inclusive)",
            )
        if (end - start) >= timedelta(days=MAX_DAYS):
            raise InputError(
                f"{(end - start).days + 1} days asked; at most {MAX_DAYS} per request",
                field="start_date",
                hint="ask for a shorter span, or page through it",
            )
    return (clamp_day(start) if start else None), (clamp_day(end) if end else None)
