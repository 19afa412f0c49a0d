"""POST /api/v1/participants/{user_id}/contact and /contact/flagged: email participants about their adherence.

Answers (the same rule for both routes: the HTTP status describes the request; a batch reports each one):
- one participant: 200 sent (or, with dry_run, the preview); 409 when the participant's state forbids it:
  emailed within the cooldown (with when the last email went and when the next may), no flag and no reason
  named, or no email address on file (`status` and `detail` say which); 502 the mail server failed (the
  error, scrubbed; logged as failed);
- flagged participants of a study: 200 with one result per participant (sent, refused, failed, or preview
  with dry_run) and the counts; an unreachable mail server makes every result failed, not the request.
Every attempt is a `contacts` row and an audit row; analysts get 403 (require_contact).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from fitpipe.adherence_rules import FLAGS, StudyRules
from fitpipe.contact.mailer import Mailer
from fitpipe.contact.outreach import Outcome, Recipient, contact
from fitpipe.contact.templates import check_reasons
from fitpipe.contracts import ContactRefused, ContactResult, ErrorBody, FlaggedContactAnswer
from fitpipe.errors import ConflictError
from fitpipe.participants import list_participants
from fitpipe.settings import Settings
from fitpipe_api.access import visible_participant, visible_study_id
from fitpipe_api.adherence import default_reasons, evaluate_flags, rules_of_study
from fitpipe_api.audit import Auditor
from fitpipe_api.deps import Call, CallerDep, SettingsDep, require_contact
from fitpipe_api.params import OptionalStudyQuery, StudyQuery, UserIdPath
from fitpipe_api.queries.adherence import read_summaries
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["contact"])

ReasonName = Literal["no_source", "no_upload", "low_sleep", "low_wear"]
assert get_args(ReasonName) == FLAGS, "the OpenAPI enum must list exactly the flags"


class ContactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReasonName | list[ReasonName] | None = Field(
        default=None,
        description="What the email is about; default: the participant's flags (only no_source when it is raised).",
    )
    force: bool = Field(default=False, description="Send even within the cooldown after the last email.")
    dry_run: bool = Field(
        default=False, description="Return the message and recipient without sending or logging it."
    )


def _cooldown(settings: Settings, rules: StudyRules) -> timedelta:
    hours = rules.contact.cooldown_hours
    return timedelta(hours=settings.fitpipe_contact_cooldown_hours if hours is None else hours)


def _result(o: Outcome, with_message: bool) -> dict[str, Any]:
    r = o.recipient
    out: dict[str, Any] = {
        "user_id": r.user_id,
        "study": r.study,
        "status": o.status,
        "reasons": list(r.reasons),
        "forced": o.forced,
    }
    if o.would_be:
        out["would_be"] = o.would_be
    if o.error:
        out["error"] = o.error
    if o.last_sent:
        out["last_contacted"] = o.last_sent
    if o.retry_after:
        out["retry_after"] = o.retry_after
    if o.message is not None:
        out["subject"] = o.message.subject
        if with_message:
            out |= {"to": o.message.to, "body": o.message.body}
    return out


def _audit(audit: Auditor, outcomes: list[Outcome], dry_run: bool) -> None:
    for o in outcomes:
        audit.record(
            "contact_preview" if dry_run else "contact",
            [o.recipient.participant_id],
            {"reasons": list(o.recipient.reasons), "status": o.would_be or o.status, "forced": o.forced},
        )


@router.post(
    "/participants/{user_id}/contact",
    summary="Email one participant about their adherence (refused within the cooldown unless forced)",
    response_model=ContactResult,
    responses={
        409: {
            "description": "Within the cooldown (not forced), nothing to write about, or no email address.",
            "model": ContactRefused | ErrorBody,
        },
        502: {
            "description": "The mail server failed; the attempt is logged as failed.",
            "model": ContactRefused,
        },
    },
)
async def contact_participant(
    caller: CallerDep,
    settings: SettingsDep,
    user_id: UserIdPath,
    request: Annotated[ContactRequest | None, Body()] = None,
    study: OptionalStudyQuery = None,
) -> Response:
    return await caller.run(_contact_one, settings, user_id, request or ContactRequest(), study)


def _contact_one(
    call: Call, settings: Settings, user_id: str, request: ContactRequest, study: str | None
) -> Response:
    db, principal, audit = call.db, call.principal, call.audit
    require_contact(principal)
    p = visible_participant(db, principal, user_id, study)
    _, rules = rules_of_study(db, p.study_id)
    now = datetime.now(UTC)
    [summary] = read_summaries(db, p.study_id, rules.adherence, now=now, participant_ids=[p.id])
    flags = evaluate_flags(summary, rules.adherence, now)
    if request.reason is None:
        reasons = default_reasons(flags)
        if not reasons:
            raise ConflictError(
                f"participant {p.external_id} has no flag to write about",
                hint="name a reason: " + ", ".join(FLAGS),
            )
    else:
        reasons = check_reasons([request.reason] if isinstance(request.reason, str) else request.reason)
    recipient = Recipient(p.id, p.study, p.external_id, p.email, reasons, {f.name: f.detail for f in flags})
    [outcome] = contact(
        db,
        None if request.dry_run else Mailer(settings),
        [recipient],
        force=request.force,
        cooldown=_cooldown(settings, rules),
        token_id=principal.token_id,
        user_id=principal.user_id,
        dry_run=request.dry_run,
    )
    _audit(audit, [outcome], request.dry_run)
    body = _result(outcome, with_message=request.dry_run)
    if outcome.status == "refused":
        return JSONResponse(
            {
                "detail": f"participant {p.external_id} was emailed within the cooldown",
                **body,
                "hint": "wait until retry_after, or send force=true",
            },
            status_code=409,
        )
    if outcome.status == "failed":
        no_address = p.email is None
        return JSONResponse(
            {
                "detail": outcome.error,
                **body,
                "hint": "add an address: fitpipe participants update --email"
                if no_address
                else f"check the mail server at {settings.mail_server}:{settings.mail_port} and the MAIL_* settings",
            },
            status_code=409 if no_address else 502,
        )
    return JSONResponse(body)


@router.post(
    "/contact/flagged",
    summary="Email every flagged active participant of a study (dry_run=true: preview the messages)",
    response_model=FlaggedContactAnswer,
)
async def contact_flagged(
    caller: CallerDep,
    settings: SettingsDep,
    study: StudyQuery,
    dry_run: Annotated[
        bool, Query(description="Return the messages and recipients without sending or logging.")
    ] = False,
    force: Annotated[bool, Query(description="Send even within the cooldown.")] = False,
    flag: Annotated[
        list[ReasonName] | None,
        Query(description="Only participants with these flags (repeatable); the email names only them."),
    ] = None,
) -> Response:
    return await caller.run(_contact_flagged, settings, study, dry_run, force, flag)


def _contact_flagged(
    call: Call, settings: Settings, study: str, dry_run: bool, force: bool, flag: list[str] | None
) -> Response:
    db, principal, audit = call.db, call.principal, call.audit
    require_contact(principal)
    study_id = visible_study_id(db, principal, study)
    name, rules = rules_of_study(db, study_id)
    now = datetime.now(UTC)
    people = {p.id: p for p in list_participants(db, name)}
    recipients = []
    for s in read_summaries(db, study_id, rules.adherence, now=now):
        flags = evaluate_flags(s, rules.adherence, now)
        reasons = default_reasons(flags)
        if flag:
            reasons = [r for r in [f.name for f in flags] if r in flag]
        if reasons:
            p = people[s.participant_id]
            recipients.append(
                Recipient(p.id, name, p.external_id, p.email, reasons, {f.name: f.detail for f in flags})
            )
    outcomes = contact(
        db,
        None if dry_run else Mailer(settings),
        recipients,
        force=force,
        cooldown=_cooldown(settings, rules),
        token_id=principal.token_id,
        user_id=principal.user_id,
        dry_run=dry_run,
    )
    _audit(audit, outcomes, dry_run)
    counts = {k: 0 for k in ("sent", "refused", "failed", "preview")}
    for o in outcomes:
        counts[o.status] += 1
    return JSONResponse(
        {
            "study": name,
            "dry_run": dry_run,
            "force": force,
            "generated_at": now,
            "counts": counts,
            "results": [_result(o, with_message=dry_run) for o in outcomes],
        }
    )
