"""Request ids: the server's own id of every request, and the client's X-Request-ID when it is acceptable.

- The server id: 32 hex digits, generated for every request. The audit log keeps it (`request_id`) and
  every log line of the request carries it; no client can choose or repeat it.
- The client id: X-Request-ID when it is 1 to 128 characters of A-Z a-z 0-9 . _ : - (a UUID, a ULID, a
  trace id). Anything else (too long, other characters, the header sent twice) is refused: it is logged
  by its length only and stored nowhere. The audit log keeps an accepted one as `client_request_id`.
- The response's X-Request-ID is the client's id when it was accepted, else the server's: either way a
  value that finds the request's audit rows and log lines.
- The ids live in a context variable for the whole request (threads of the request included), so every
  log line of the request names them (fitpipe_api.logs).
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIds", "RequestIdMiddleware", "current_ids", "CLIENT_ID_PATTERN", "accept_client_id"]

log = logging.getLogger(__name__)

CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""Also the CHECK constraint on audit_log.client_request_id (sql/0005_api.sql)."""
_HEADER = b"x-request-id"


@dataclass(frozen=True)
class RequestIds:
    server: str
    client: str | None
    """The client's X-Request-ID as accepted; None when absent or refused."""

    @property
    def public(self) -> str:
        """The id the response carries in X-Request-ID."""
        return self.client or self.server


_current: contextvars.ContextVar[RequestIds | None] = contextvars.ContextVar(
    "fitpipe_request_ids", default=None
)


def current_ids() -> RequestIds | None:
    return _current.get()


def accept_client_id(values: list[bytes]) -> tuple[str | None, str | None]:
    """(accepted id, why it was refused): one header value matching CLIENT_ID_PATTERN, or none."""
    if not values:
        return None, None
    if len(values) > 1:
        return None, f"{len(values)} X-Request-ID headers"
    raw = values[0]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None, f"X-Request-ID of {len(raw)} bytes is not ASCII"
    if CLIENT_ID_PATTERN.fullmatch(text):
        return text, None
    return None, f"X-Request-ID of {len(raw)} bytes is not 1-128 of A-Z a-z 0-9 . _ : -"


class RequestIdMiddleware:
    """Gives every HTTP request its ids (scope state, context variable, response header)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client, refused = accept_client_id([v for k, v in scope["headers"] if k.lower() == _HEADER])
        ids = RequestIds(uuid.uuid4().hex, client)
        scope.setdefault("state", {})["request_ids"] = ids
        token = _current.set(ids)
        if refused:
            log.info("client request id refused (%s); the request is %s", refused, ids.server)
        header = ids.public.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                message = {**message, "headers": [*headers, (_HEADER, header)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
