"""Test data for the participant, adherence and contact routes: heart rate and steps through the real loader,
sources, sleep nights, enrolment windows, and a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from fitpipe.participants import Participant
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.records import ParsedFile, SampleBatch

US = 1_000_000


def load_samples(
    conn: psycopg.Connection,
    participant: Participant,
    metric: str,
    ts: pd.DatetimeIndex | list[datetime],
    values: np.ndarray,
    path: str | None = None,
) -> None:
    """Load samples of one metric at the given instants through the real loader (rollups included)."""
    idx = pd.DatetimeIndex(ts)
    us = (idx.tz_convert("UTC").as_unit("us").asi8 if idx.tz is not None else idx.as_unit("us").asi8).astype(
        np.int64
    )
    path = path or f"{metric}-{participant.external_id}-{int(us[0]) if us.size else 0}.json"
    batch = SampleBatch(metric, us, np.asarray(values, dtype=np.float64), path)
    load_parsed_file(
        conn,
        ParsedFile(path, "test", [batch]),
        {None: participant},
        FileIdentity(path, 1, path),
        LoadOptions(source="test", lag=timedelta(hours=1)),
    )


def worn_seconds(
    start: datetime, end: datetime, every: int, off: Sequence[tuple[datetime, datetime]] = ()
) -> pd.DatetimeIndex:
    """Sample instants every `every` seconds in [start, end), minus the off-wrist intervals."""
    ts = pd.date_range(start, end, freq=f"{every}s", inclusive="left")
    keep = np.ones(ts.size, dtype=bool)
    for a, b in off:
        keep &= ~((ts >= pd.Timestamp(a)) & (ts < pd.Timestamp(b)))
    return ts[keep]


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


def set_enrolment(
    conn: psycopg.Connection, participant: Participant, start: datetime | None, end: datetime | None = None
) -> None:
    conn.execute(
        "UPDATE participants SET enrolment_start = %s, enrolment_end = %s WHERE id = %s",
        (start, end, participant.id),
    )


def add_source(
    conn: psycopg.Connection,
    participant: Participant,
    *,
    source: str = "google_health",
    status: str = "active",
    last_success_at: datetime | None = None,
) -> None:
    conn.execute(
        """INSERT INTO participant_sources (participant_id, source, status, last_attempt_at, last_success_at)
           VALUES (%s, %s, %s, %s, %s)""",
        (participant.id, source, status, last_success_at, last_success_at),
    )


def add_night(
    conn: psycopg.Connection,
    participant: Participant,
    night_of: date,
    *,
    main: bool = True,
    minutes_asleep: int = 420,
) -> None:
    """A sleep session ending on the morning of `night_of` (Fitbit's dateOfSleep) in the participant's zone."""
    end = local_midnight(night_of, participant.timezone) + timedelta(hours=7)
    conn.execute(
        """INSERT INTO sleep_sessions (participant_id, start_time, end_time, local_date, is_main_sleep, minutes_asleep, source)
           VALUES (%s, %s, %s, %s, %s, %s, 'test')""",
        (participant.id, end - timedelta(minutes=minutes_asleep + 20), end, night_of, main, minutes_asleep),
    )


def add_contact(
    conn: psycopg.Connection,
    participant: Participant,
    at: datetime,
    status: str = "sent",
    reason: str = "low_wear",
) -> None:
    conn.execute(
        "INSERT INTO contacts (participant_id, sent_at, reason, status) VALUES (%s, %s, %s, %s)",
        (participant.id, at, reason, status),
    )


def scalar(conn: psycopg.Connection, query: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row of a query."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def body_of(message: Message) -> str:
    """The decoded text of a received plain-text email (the wire form is quoted-printable)."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def today_in(tz: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(tz)).date()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received: (envelope recipients, parsed message) per email."""

    received: list[tuple[list[str], Message]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(*, username: str | None = None, password: str | None = None) -> Iterator[tuple[int, Inbox]]:
    """A real SMTP server on 127.0.0.1 and a free port; with username/password it checks AUTH LOGIN/PLAIN."""
    inbox = Inbox()
    kwargs: dict[str, Any] = {}
    if username is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            ) == (username, password)
            if ok:
                inbox.logins.append((auth_data.login.decode(), mechanism))
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

        # AUTH offered without TLS on loopback; not "required", which aiosmtpd warns about (the client logs in anyway)
        kwargs = {"authenticator": authenticate, "auth_require_tls": False}
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()
