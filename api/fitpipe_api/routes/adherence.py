"""GET /api/v1/adherence: per participant of a study, wear and sleep per local day, overall adherence, flags.

Overall figures and the flags that look back are over the participant's window: the enrolment to date cut to
[start_date, end_date] (fitpipe_api.adherence); the days listed are the last 30 of it unless start_date says.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter
from starlette.responses import Response

from fitpipe.contracts import AdherenceAnswer
from fitpipe_api.access import visible_participant, visible_study_id
from fitpipe_api.adherence import days_json, rules_of_study, summary_json
from fitpipe_api.deps import Call, CallerDep
from fitpipe_api.params import (
    EndDateQuery,
    StartDateQuery,
    StudyQuery,
    UserIdsQuery,
    ValidHoursQuery,
    check_day_range,
)
from fitpipe_api.queries.adherence import DEFAULT_DAYS, read_days, read_summaries
from fitpipe_api.responses import JSONResponse

router = APIRouter(prefix="/adherence", tags=["adherence"])


@router.get(
    "",
    summary="Wear, steps and sleep per participant and local day; overall adherence; the four flags",
    response_description="One entry per participant: window, overall adherence, flags and columnar days.",
    response_model=AdherenceAnswer,
)
async def get_adherence(
    caller: CallerDep,
    study: StudyQuery,
    start_date: StartDateQuery = None,
    end_date: EndDateQuery = None,
    user_id: UserIdsQuery = None,
    valid_hours: ValidHoursQuery = False,
) -> Response:
    return await caller.run(_adherence, study, start_date, end_date, user_id, valid_hours)


def _adherence(
    call: Call,
    study: str,
    start_date: date | None,
    end_date: date | None,
    user_id: list[str] | None,
    valid_hours: bool,
) -> Response:
    db, principal, audit = call.db, call.principal, call.audit
    study_id = visible_study_id(db, principal, study)
    start_date, end_date = check_day_range(start_date, end_date)
    ids = (
        [visible_participant(db, principal, u, study).id for u in dict.fromkeys(user_id)] if user_id else None
    )
    name, rules = rules_of_study(db, study_id)
    now = datetime.now(UTC)
    summaries = read_summaries(
        db, study_id, rules.adherence, now=now, participant_ids=ids, start=start_date, end=end_date
    )
    days = read_days(
        db,
        study_id,
        rules.adherence,
        start=start_date,
        end=end_date,
        now=now,
        participant_ids=ids,
        valid_hours=valid_hours,
    )
    audit.record(
        "read_adherence",
        [s.participant_id for s in summaries],
        {"study": name, "start": start_date, "end": end_date, "participants": len(summaries)},
    )
    return JSONResponse(
        {
            "study": name,
            "start_date": start_date,
            "end_date": end_date,
            "default_days": DEFAULT_DAYS,
            "valid_hours": valid_hours,
            "generated_at": now,
            "rules": rules.adherence.model_dump(),
            "participants": [
                summary_json(s, rules.adherence, now)
                | {"days": days_json(days.get(s.participant_id), valid_hours)}
                for s in summaries
            ],
        }
    )
