"""Contacting participants: the cooldown check, the email, and one `contacts` row per attempt (sent, failed or
refused), serialised per participant so two callers cannot both pass the cooldown.

A batch opens one SMTP connection, lazily, at its first message; when that connection cannot be made,
every message of the batch fails with the same error (instead of waiting out the timeout once each).
Nothing here logs or stores an email address.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg

from fitpipe.contact.mailer import DeliveryError, Mailer, MailSession
from fitpipe.contact.templates import Message, render

__all__ = ["Recipient", "Outcome", "contact", "CONTACT_LOCK"]

log = logging.getLogger(__name__)

CONTACT_LOCK = 0x6663  # advisory lock class for "contacting participant <id>"
Status = Literal["sent", "failed", "refused", "preview"]


@dataclass(frozen=True)
class Recipient:
    participant_id: int
    study: str
    user_id: str
    email: str | None
    reasons: Sequence[str]
    details: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class Outcome:
    recipient: Recipient
    status: Status
    """sent, failed, refused (cooldown), or preview (dry run: what would be sent; nothing sent or logged)."""
    forced: bool = False
    """True when the send went ahead although the cooldown had not ended (force=True)."""
    error: str | None = None
    last_sent: datetime | None = None
    retry_after: datetime | None = None
    """With refused: when the cooldown ends."""
    message: Message | None = None
    would_be: Status | None = None
    """With preview: sent, refused or failed, as the real send would be now (failed: no email address)."""


class _LazySession:
    def __init__(self, mailer: Mailer | None, stack: ExitStack) -> None:
        self._mailer, self._stack = mailer, stack
        self._session: MailSession | None = None
        self._error: DeliveryError | None = None

    def send(self, message: Message) -> None:
        if self._error is not None:
            raise self._error
        if self._session is None:
            if self._mailer is None:
                raise DeliveryError("no mailer configured")
            try:
                self._session = self._stack.enter_context(self._mailer.session())
            except DeliveryError as exc:
                self._error = exc
                raise
        self._session.send(message)


def _record(
    conn: psycopg.Connection,
    r: Recipient,
    status: str,
    forced: bool,
    error: str | None,
    token_id: int | None,
    user_id: int | None,
) -> None:
    conn.execute(
        "INSERT INTO contacts (participant_id, reason, status, forced, error, token_id, user_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (r.participant_id, ",".join(r.reasons), status, forced, error, token_id, user_id),
    )
    log.info(
        "contact study=%s participant=%s reasons=%s status=%s forced=%s%s",
        r.study,
        r.user_id,
        ",".join(r.reasons),
        status,
        forced,
        f" error={error}" if error else "",
    )


def _one(
    conn: psycopg.Connection,
    session: _LazySession,
    r: Recipient,
    *,
    force: bool,
    cooldown: timedelta,
    token_id: int | None,
    user_id: int | None,
    dry_run: bool,
) -> Outcome:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (CONTACT_LOCK, r.participant_id))
        row = conn.execute(
            "SELECT max(sent_at), now() FROM contacts WHERE participant_id = %s AND status = 'sent'",
            (r.participant_id,),
        ).fetchone()
        last, now = (row[0], row[1]) if row else (None, None)
        within = last is not None and now - last < cooldown
        message = render(r.email, r.study, r.user_id, r.reasons, r.details) if r.email else None
        if r.email is None:
            verdict: Status = "failed"
            error: str | None = "no email address on file for the participant"
        elif within and not force:
            verdict, error = (
                "refused",
                f"contacted {last:%Y-%m-%d %H:%M %Z}, within the cooldown of {cooldown}",
            )
        else:
            verdict, error = "sent", None
        forced = force and within  # the column says whether a cooldown was actually overridden
        retry_after = last + cooldown if verdict == "refused" and last is not None else None
        if dry_run:
            return Outcome(r, "preview", forced, error, last, retry_after, message, would_be=verdict)
        if verdict == "sent":
            assert message is not None
            try:
                session.send(message)
            except DeliveryError as exc:
                verdict, error = "failed", exc.message
        # the error column holds failures only
        _record(conn, r, verdict, forced, error if verdict == "failed" else None, token_id, user_id)
        return Outcome(r, verdict, forced, error, last, retry_after, message if verdict == "sent" else None)


def contact(
    conn: psycopg.Connection,
    mailer: Mailer | None,
    recipients: Sequence[Recipient],
    *,
    force: bool = False,
    cooldown: timedelta,
    token_id: int | None = None,
    user_id: int | None = None,
    dry_run: bool = False,
) -> list[Outcome]:
    """Email each recipient (or, with dry_run, say what would be sent); one outcome per recipient, in order.
    `token_id` / `user_id`: the API token or signed-in person who asked (recorded with each attempt)."""
    with ExitStack() as stack:
        session = _LazySession(mailer, stack)
        return [
            _one(
                conn,
                session,
                r,
                force=force,
                cooldown=cooldown,
                token_id=token_id,
                user_id=user_id,
                dry_run=dry_run,
            )
            for r in recipients
        ]
