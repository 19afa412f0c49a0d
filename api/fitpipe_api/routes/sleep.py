"""GET /api/v1/sleep: a participant's sleep sessions with their stage intervals (the hypnogram)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from fitpipe.contracts import SleepAnswer
from fitpipe.errors import InputError
from fitpipe_api.access import visible_participant
from fitpipe_api.deps import Call, CallerDep
from fitpipe_api.params import OptionalStudyQuery, UserIdQuery
from fitpipe_api.responses import JSONResponse
from fitpipe_api.series import clamp_day

router = APIRouter(prefix="/sleep", tags=["sleep"])

DEFAULT_NIGHTS = 7


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return clamp_day(date.fromisoformat(value))
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise InputError(
            f"{shown!r} is not a date", field=name, hint="send YYYY-MM-DD (the participant's local date)"
        ) from None


@router.get(
    "",
    summary="Sleep sessions and stages of a participant, by the local date each night ends",
    response_model=SleepAnswer,
)
async def get_sleep(
    caller: CallerDep,
    user_id: UserIdQuery,
    study: OptionalStudyQuery = None,
    start_date: Annotated[
        str | None,
        Query(description="First local date (YYYY-MM-DD); default: 6 nights before end.", max_length=64),
    ] = None,
    end_date: Annotated[
        str | None, Query(description="Last local date, inclusive; default: the latest night.", max_length=64)
    ] = None,
) -> Response:
    return await caller.run(_sleep, user_id, study, start_date, end_date)


def _sleep(
    call: Call, user_id: str, study: str | None, start_date: str | None, end_date: str | None
) -> Response:
    db = call.db
    p = visible_participant(db, call.principal, user_id, study)
    end = _day(end_date, "end_date")
    if end is None:
        row = db.execute(
            "SELECT max(local_date) FROM sleep_sessions WHERE participant_id = %s", (p.id,)
        ).fetchone()
        end = row[0] if row and row[0] else date.today()
    start = _day(start_date, "start_date") or clamp_day(end - timedelta(days=DEFAULT_NIGHTS - 1))
    if start > end:
        raise InputError(
            "start_date is after end_date", field="start_date", hint="send start_date <= end_date"
        )
    sessions = db.execute(
        """SELECT id, start_time, end_time, local_date, is_main_sleep, minutes_asleep, minutes_awake, efficiency,
                  sleep_type, source
           FROM sleep_sessions WHERE participant_id = %s AND local_date BETWEEN %s AND %s ORDER BY start_time""",
        (p.id, start, end),
    ).fetchall()
    stages: dict[int, dict[str, list[object]]] = {
        s[0]: {"start": [], "seconds": [], "level": [], "is_short": []} for s in sessions
    }
    if sessions:
        for session_id, st_start, seconds, level, is_short in db.execute(
            """SELECT session_id, start_time, seconds, level, is_short FROM sleep_stages
               WHERE session_id = ANY(%s) ORDER BY session_id, start_time, is_short""",
            ([s[0] for s in sessions],),
        ).fetchall():
            stage = stages[session_id]
            stage["start"].append(st_start)
            stage["seconds"].append(seconds)
            stage["level"].append(level)
            stage["is_short"].append(is_short)
    call.audit.record("read_sleep", [p.id], {"start": start.isoformat(), "end": end.isoformat()})
    cols = [
        "start",
        "end",
        "local_date",
        "is_main_sleep",
        "minutes_asleep",
        "minutes_awake",
        "efficiency",
        "sleep_type",
        "source",
    ]
    return JSONResponse(
        {
            "user_id": p.external_id,
            "study": p.study,
            "timezone": p.timezone,
            "start_date": start,
            "end_date": end,
            "sessions": [dict(zip(cols, s[1:], strict=True)) | {"stages": stages[s[0]]} for s in sessions],
        }
    )
