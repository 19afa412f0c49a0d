"""The Google Health API source's routes: a consent link per participant, the OAuth callback that stores the
grant (Google sends the participant's browser here: no bearer token, the single-use state authenticates it),
and the webhook receiver that queues a targeted pull for the ingest job (the API itself never pulls data).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import orjson
import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from starlette.responses import HTMLResponse, Response

from fitpipe.contracts import ConsentLink
from fitpipe.errors import ConfigError, ConflictError
from fitpipe.google_health.client import GoogleHealthClient
from fitpipe.google_health.datatypes import SCOPES
from fitpipe.google_health.errors import ApiError, ConsentError
from fitpipe.google_health.grants import (
    PROVIDER,
    StaticTokens,
    create_consent_link,
    open_consent,
    store_grant,
)
from fitpipe.google_health.notifications import parse_notifications, queue_notifications
from fitpipe.google_health.oauth import OAuthClient
from fitpipe.google_health.settings import GoogleHealthSettings, get_google_health_settings
from fitpipe.google_health.tokens import TokenCipher
from fitpipe.google_health.webhook import load_public_keys, notification_status, secret_status
from fitpipe_api.access import visible_participant
from fitpipe_api.audit import Auditor
from fitpipe_api.deps import Call, CallerDep, DatabaseDep, request_ids
from fitpipe_api.params import OptionalStudyQuery, UserIdPath
from fitpipe_api.request_ids import RequestIds
from fitpipe_api.responses import JSONResponse

router = APIRouter(tags=["sources"])
log = logging.getLogger(__name__)

CALLBACK_PATH = "/oauth/google-health/callback"
_SECRET_QUERY = re.compile(r"(?<=[?&])(code|state)=[^&\s\"]*")


class RedactCallbackQuery(logging.Filter):
    """Keeps the callback's authorization code and state out of the server's access log (uvicorn logs the full
    path with its query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(CALLBACK_PATH in str(a) for a in record.args):
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1=***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


# attached on import: api.main includes this router, and `fitpipe serve api` logs requests through uvicorn.access
_access_log = logging.getLogger("uvicorn.access")
if not any(isinstance(f, RedactCallbackQuery) for f in _access_log.filters):
    _access_log.addFilter(RedactCallbackQuery())


async def google_health_settings() -> GoogleHealthSettings:
    return get_google_health_settings()


GoogleSettingsDep = Annotated[GoogleHealthSettings, Depends(google_health_settings)]


@contextmanager
def _configured() -> Iterator[None]:
    """Without the OAuth client or the token key the source is not enabled on this server: 404, naming what to set."""
    try:
        yield
    except ConfigError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"the Google Health source is not enabled here: {exc.message} ({exc.hint})",
        ) from None


def _redirect_uri(request: Request, settings: GoogleHealthSettings) -> str:
    return settings.google_oauth_redirect_url or str(request.url_for("google_health_callback"))


@router.get(
    "/participants/{user_id}/connect",
    summary="A Google consent link for a participant (send it to them; it stays valid for a week by default)",
    response_model=ConsentLink,
    responses={
        404: {
            "description": "No such participant for this token, or the Google Health source is not enabled "
            "(GOOGLE_CLIENT_ID/SECRET or FITPIPE_TOKEN_KEY unset)"
        }
    },
)
async def connect_participant(
    request: Request,
    caller: CallerDep,
    settings: GoogleSettingsDep,
    user_id: UserIdPath,
    study: OptionalStudyQuery = None,
) -> Response:
    return await caller.run(_connect, settings, _redirect_uri(request, settings), user_id, study)


def _connect(
    call: Call, settings: GoogleHealthSettings, redirect_uri: str, user_id: str, study: str | None
) -> Response:
    db, principal, audit = call.db, call.principal, call.audit
    if not principal.can_contact:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"a {principal.role} token cannot create consent links"
        )
    p = visible_participant(db, principal, user_id, study)
    with _configured():
        cipher = TokenCipher(settings.fitpipe_token_key)
        oauth = OAuthClient(settings)
    try:
        link = create_consent_link(
            db,
            cipher,
            oauth,
            p,
            redirect_uri=redirect_uri,
            lifetime=timedelta(hours=settings.fitpipe_google_consent_hours),
            token_id=principal.token_id,
        )
    finally:
        oauth.http.close()
    row = db.execute(
        "SELECT status FROM participant_sources WHERE participant_id = %s AND source = %s", (p.id, PROVIDER)
    ).fetchone()
    audit.record("consent_link", [p.id], {"source": PROVIDER})
    return JSONResponse(
        {
            "user_id": p.external_id,
            "study": p.study,
            "source": PROVIDER,
            "authorization_url": link.url,
            "expires_at": link.expires_at,
            "scopes": list(SCOPES),
            "source_status": row[0] if row else None,
        }
    )


def _page(title: str, message: str, hint: str | None = None, code: int = 200) -> HTMLResponse:
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<body style='font-family:sans-serif;max-width:36em;margin:3em auto'><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(message)}</p>" + (f"<p>{html.escape(hint)}</p>" if hint else "") + "</body></html>"
    )
    return HTMLResponse(body, status_code=code)


def _audit_consent(
    db: psycopg.Connection, ids: RequestIds, participant_id: int, detail: dict[str, object]
) -> None:
    # no API token took part (Google redirected the participant's browser), so token_id stays empty
    Auditor(db, None, ids).record("consent_granted", [participant_id], detail)


_HTML = {"text/html": {"schema": {"type": "string"}}}


@router.get(
    CALLBACK_PATH,
    name="google_health_callback",
    response_class=HTMLResponse,
    summary="Where Google sends the participant after the consent screen (stores the grant)",
    responses={
        200: {"content": _HTML, "description": "Connected"},
        400: {
            "content": _HTML,
            "description": "The link is unknown, used or expired, or consent was declined",
        },
        404: {"content": _HTML, "description": "The Google Health source is not enabled on this server"},
    },
)
async def google_health_callback(
    request: Request,
    database: DatabaseDep,
    settings: GoogleSettingsDep,
    state: Annotated[str | None, Query(description="The state of the consent link.", max_length=2048)] = None,
    code: Annotated[str | None, Query(description="Google's authorization code.", max_length=4096)] = None,
    error: Annotated[
        str | None, Query(description="Google's error, e.g. access_denied.", max_length=256)
    ] = None,
    scope: Annotated[
        str | None, Query(description="Scopes granted (the token answer is authoritative).", max_length=4096)
    ] = None,
) -> Response:
    return await database.run(_callback, settings, request_ids(request), state, code, error)


def _callback(
    db: psycopg.Connection,
    settings: GoogleHealthSettings,
    ids: RequestIds,
    state: str | None,
    code: str | None,
    error: str | None,
) -> Response:
    try:
        cipher = TokenCipher(settings.fitpipe_token_key)
        oauth = OAuthClient(settings)
    except ConfigError:
        return _page(
            "Not available",
            "The study's connection to Google Health is not set up yet.",
            "Please tell the study team.",
            404,
        )
    api = GoogleHealthClient(settings, http=oauth.http)
    try:
        if not state:
            raise ConsentError(
                "this address is missing its consent link", hint="open the link the study team sent you"
            )
        consent = open_consent(db, cipher, state)
        if error or not code:
            declined = error == "access_denied"
            raise ConsentError(
                "you did not allow access" if declined else f"Google did not complete the consent ({error})",
                hint="open the consent link again to allow access",
            )
        tokens = oauth.exchange_code(
            code, code_verifier=consent.code_verifier, redirect_uri=consent.redirect_uri
        )
        identity = api.identity(
            user=consent.participant_id, tokens=StaticTokens(tokens.access_token.get_secret_value())
        )
        grant = store_grant(db, cipher, consent.participant_id, tokens, identity, consent=consent)
    except (ConsentError, ConflictError, ApiError) as exc:
        log.info("consent callback refused: %s", exc.message)
        return _page("Not connected", exc.message[:1].upper() + exc.message[1:] + ".", exc.hint, 400)
    finally:
        oauth.http.close()
    missing = [s.rsplit(".", 2)[-2] for s in SCOPES if s not in grant.scopes]
    _audit_consent(db, ids, consent.participant_id, {"source": PROVIDER, "scopes": list(grant.scopes)})
    note = (
        ("Some data was not shared (" + ", ".join(missing) + "); the study receives the rest.")
        if missing
        else None
    )
    return _page(
        "Connected",
        "Thank you: your Google Health data is now connected to the study. You can close this page.",
        note,
    )


_WEBHOOK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": '{"type": "verification"}, a notification {"data": {"healthUserId", "dataType", "operation", '
                    '"intervals": [{"physicalTimeInterval": {"startTime", "endTime"}}]}}, or an array of notifications',
                    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                }
            }
        },
    }
}


def _queue(conn: psycopg.Connection, payload: object) -> tuple[int, int, int]:
    notifications, ignored = parse_notifications(payload)
    queued, unknown = queue_notifications(conn, notifications)
    return queued, unknown, ignored


@router.post(
    "/webhooks/google-health",
    status_code=204,
    openapi_extra=_WEBHOOK_BODY,
    summary="Google Health webhook: the verification handshake and data-change notifications (queued for a pull)",
    responses={
        201: {"description": "Verification accepted (the configured secret was sent)"},
        204: {"description": "Notification accepted and queued"},
        404: {"description": "No webhook secret or public key is configured: the receiver is not enabled"},
        503: {"description": "The configured public keys cannot be read"},
    },
)
async def google_health_webhook(
    request: Request, database: DatabaseDep, settings: GoogleSettingsDep
) -> Response:
    """A `{"type": "verification"}` body is the handshake: 201 with the secret in Authorization, 401 without it,
    403 with a wrong one. Anything else is a notification (`{"data": {...}}` or an array of them), checked
    against the ECDSA signature when public keys are configured, else against the secret."""
    secret = settings.google_health_webhook_secret
    if secret is None and not settings.google_health_webhook_public_keys:
        return JSONResponse(
            {
                "detail": "the webhook receiver is not enabled: set GOOGLE_HEALTH_WEBHOOK_SECRET "
                "(and GOOGLE_HEALTH_WEBHOOK_PUBLIC_KEYS to check signatures)"
            },
            status_code=404,
        )
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return JSONResponse({"detail": "the body is not JSON"}, status_code=400)
    if isinstance(payload, dict) and payload.get("type") == "verification":
        answer = secret_status(request.headers.get("authorization"), secret)
        if answer == 201:
            return Response(status_code=201)
        if answer == 503:
            return JSONResponse(
                {"detail": "the webhook receiver is not enabled: GOOGLE_HEALTH_WEBHOOK_SECRET is unset"},
                status_code=404,
            )
        return JSONResponse(
            {"detail": {401: "no secret in Authorization", 403: "wrong secret"}[answer]}, status_code=answer
        )
    try:
        keys = load_public_keys(settings.google_health_webhook_public_keys)
    except ConfigError as exc:
        return JSONResponse({"detail": exc.message}, status_code=503)
    refused = notification_status(body, request.headers, secret, keys)
    if refused == 503:
        return JSONResponse(
            {
                "detail": "the webhook receiver is not enabled: set GOOGLE_HEALTH_WEBHOOK_SECRET "
                "or GOOGLE_HEALTH_WEBHOOK_PUBLIC_KEYS"
            },
            status_code=404,
        )
    if refused:
        reason = {401: "missing or invalid signature or secret", 403: "wrong secret"}.get(refused, "refused")
        return JSONResponse({"detail": reason}, status_code=refused)
    queued, unknown, ignored = await database.run(_queue, payload)
    log.info("webhook: %d notification(s) queued, %d for unknown users, %d ignored", queued, unknown, ignored)
    return Response(status_code=204)
