"""GET /api/v1/participants and /participants/{user_id}: who is in a study and how each is doing (adherence,
newest data, last sync, source status, flags, last contact); email addresses only for roles that may see them.
DELETE /participants/{user_id}: erase everything stored of a participant who withdrew consent (admin only).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from fitpipe.contracts import Erasure, ParticipantDetail, ParticipantsAnswer
from fitpipe.storage import erase_participant
from fitpipe_api.access import visible_participant, visible_participants, visible_study_id
from fitpipe_api.adherence import days_json, rules_of_study, summary_json
from fitpipe_api.deps import Call, CallerDep, require_admin
from fitpipe_api.params import (
    STUDY_PATTERN,
    EndDateQuery,
    OptionalStudyQuery,
    StartDateQuery,
    StudyQuery,
    UserIdPath,
    check_day_range,
)
from fitpipe_api.queries.adherence import read_days, read_summaries
from fitpipe_api.responses import JSONResponse

router = APIRouter(prefix="/participants", tags=["participants"])

RECENT_CONTACTS = 20


@router.get(
    "",
    summary="The participants of a study (or of every study the token sees) with adherence and flags",
    response_model=ParticipantsAnswer,
)
async def list_participants(
    caller: CallerDep,
    study: Annotated[
        str | None,
        Query(description="Study name; default: every study the token sees.", pattern=STUDY_PATTERN),
    ] = None,
) -> Response:
    return await caller.run(_list, study)


def _list(call: Call, study: str | None) -> Response:
    db, principal, audit = call.db, call.principal, call.audit
    if study is not None:
        study_ids = [visible_study_id(db, principal, study)]
    else:
        study_ids = [
            int(r[0])
            for r in db.execute("SELECT id FROM studies ORDER BY name").fetchall()
            if principal.sees_study(int(r[0]))
        ]
    emails = (
        {p.id: p.email for p in visible_participants(db, principal, study)} if principal.sees_emails else {}
    )
    now = datetime.now(UTC)
    out: list[dict[str, Any]] = []
    seen: list[int] = []
    rules_by_study: dict[str, Any] = {}
    for study_id in study_ids:
        name, rules = rules_of_study(db, study_id)
        rules_by_study[name] = rules.adherence.model_dump()
        for s in read_summaries(db, study_id, rules.adherence, now=now):
            entry = {"study": name} | summary_json(s, rules.adherence, now)
            if principal.sees_emails:
                entry["email"] = emails.get(s.participant_id)
            out.append(entry)
            seen.append(s.participant_id)
    audit.record("read_participants", seen, {"study": study, "participants": len(out)})
    return JSONResponse({"generated_at": now, "rules": rules_by_study, "participants": out})


@router.get(
    "/{user_id}",
    summary="One participant: adherence, flags, days, data sources and recent contacts",
    response_model=ParticipantDetail,
)
async def get_participant(
    caller: CallerDep,
    user_id: UserIdPath,
    study: OptionalStudyQuery = None,
    start_date: StartDateQuery = None,
    end_date: EndDateQuery = None,
) -> Response:
    return await caller.run(_one, user_id, study, start_date, end_date)


def _one(
    call: Call, user_id: str, study: str | None, start_date: date | None, end_date: date | None
) -> Response:
    db, principal, audit = call.db, call.principal, call.audit
    p = visible_participant(db, principal, user_id, study)
    start_date, end_date = check_day_range(start_date, end_date)
    name, rules = rules_of_study(db, p.study_id)
    now = datetime.now(UTC)
    [s] = read_summaries(
        db, p.study_id, rules.adherence, now=now, participant_ids=[p.id], start=start_date, end=end_date
    )
    days = read_days(
        db, p.study_id, rules.adherence, start=start_date, end=end_date, now=now, participant_ids=[p.id]
    )
    contacts = db.execute(
        """SELECT sent_at, reason, status, forced, error FROM contacts WHERE participant_id = %s
           ORDER BY sent_at DESC, id DESC LIMIT %s""",
        (p.id, RECENT_CONTACTS),
    ).fetchall()
    audit.record("read_participant", [p.id], {"start": start_date, "end": end_date})
    body = (
        {"study": name}
        | summary_json(s, rules.adherence, now)
        | {
            "sources": s.sources,
            "contacts": [
                {"at": at, "reasons": reason.split(","), "status": status, "forced": forced, "error": error}
                for at, reason, status, forced, error in contacts
            ],
            "rules": rules.adherence.model_dump(),
            "days": days_json(days.get(p.id)),
        }
    )
    if principal.sees_emails:
        body["email"] = p.email
    return JSONResponse(body)


@router.delete(
    "/{user_id}",
    summary="Erase everything stored of a participant who withdrew consent (admin tokens only; irreversible)",
    response_model=Erasure,
    responses={200: {"description": "Erased: rows deleted per table"}},
)
async def erase(caller: CallerDep, user_id: UserIdPath, study: StudyQuery) -> Response:
    """Deletes the participant's samples (compressed chunks too), rollups, sleep, cursors, file manifest,
    quarantined raw text, data sources, Google grants and tokens, consent links and contact log, in one
    transaction, and records an `erase_participant` row in the audit log under this token or signed-in admin. The participant
    stays as a tombstone (id, study, `erased_at`) that the audit log refers to; the next daily run removes
    their inbox folder. Repeating the call is harmless (it deletes nothing more)."""
    return await caller.run(_erase, user_id, study)


def _erase(call: Call, user_id: str, study: str) -> Response:
    db, principal = call.db, call.principal
    require_admin(principal)
    p = visible_participant(db, principal, user_id, study)
    ids = call.audit.ids
    # Years of 1 Hz data take longer to delete than an ordinary request may run, and the erasure waits for a
    # load of the same participant: like an export, it is exempt from the statement timeout.
    db.execute("SET statement_timeout = 0")
    try:
        report = erase_participant(
            db,
            p,
            # the client's X-Request-ID, when accepted, goes with the audit row's detail
            actor={"via": "api", **({"client_request_id": ids.client} if ids.client else {})},
            token_id=principal.token_id,
            user_id=principal.user_id,
            session_id=principal.session_id,
            request_id=ids.server,
        )
    finally:
        db.execute("RESET statement_timeout")
    erased_at = db.execute("SELECT erased_at FROM participants WHERE id = %s", (p.id,)).fetchone()
    return JSONResponse(
        {
            "study": p.study,
            "user_id": p.external_id,
            "erased_at": erased_at[0] if erased_at else None,
            "previously_erased_at": report.previously_erased,
            "rows": report.rows,
            "total_rows": report.total_rows,
        }
    )
