"""Studies and participants: adding, finding and listing them (shared by the CLI, the loader and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.rows import class_row

from fitpipe.errors import ConflictError, InputError, NotFoundError

__all__ = [
    "Participant",
    "PARTICIPANT_SELECT",
    "STUDY_PATTERN",
    "PARTICIPANT_PATTERN",
    "add_participant",
    "get_participant",
    "find_participant",
    "list_participants",
    "ensure_study",
    "check_timezone",
]


STUDY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
"""Study names (the same rule as the CHECK on studies.name)."""
PARTICIPANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"
"""Participant ids (the same rule as the CHECK on participants.external_id)."""


@dataclass(frozen=True)
class Participant:
    id: int
    study_id: int
    study: str
    external_id: str
    timezone: str
    email: str | None
    status: str
    enrolment_start: datetime | None
    enrolment_end: datetime | None
    erased_at: datetime | None = None
    """Set once the participant's data was erased (fitpipe.storage.erasure): nothing is loaded for them again."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


PARTICIPANT_SELECT = """
SELECT p.id, p.study_id, s.name AS study, p.external_id, p.timezone, p.email, p.status,
       p.enrolment_start, p.enrolment_end, p.erased_at
FROM participants p JOIN studies s ON s.id = p.study_id
"""


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r}",
            field="timezone",
            hint="use an IANA name such as Europe/London or America/New_York",
        ) from None
    return name


def ensure_study(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute(
        "INSERT INTO studies (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id", (name,)
    ).fetchone()
    if row is None:
        row = conn.execute("SELECT id FROM studies WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def add_participant(
    conn: psycopg.Connection,
    external_id: str,
    study: str,
    *,
    timezone: str | None = None,
    email: str | None = None,
    enrolment_start: datetime | None = None,
) -> tuple[Participant, bool]:
    """Add a participant (creating the study if needed). Returns (participant, created).

    Adding one that exists is not an error when nothing differs; a different time zone or email is a
    ConflictError, because silently changing either would reinterpret stored data or misdirect email.
    """
    if timezone is not None:
        check_timezone(timezone)
    with conn.transaction():
        study_id = ensure_study(conn, study)
        existing = find_participant(conn, external_id, study)
        if existing is not None:
            differs = []
            if timezone is not None and timezone != existing.timezone:
                differs.append(f"timezone {existing.timezone!r} → {timezone!r}")
            if email is not None and email != existing.email:
                differs.append("email")
            if differs:
                raise ConflictError(
                    f"participant {external_id} of study {study} exists with a different "
                    + ", ".join(differs),
                    hint="use `fitpipe participants update` to change it deliberately",
                )
            return existing, False
        try:
            conn.execute(
                """INSERT INTO participants (study_id, external_id, timezone, email, enrolment_start)
                   VALUES (%s, %s, %s, %s, %s)""",
                (study_id, external_id, timezone or "UTC", email, enrolment_start),
            )
        except psycopg.errors.CheckViolation:
            raise InputError(
                f"participant id {external_id!r} is not allowed",
                field="participant",
                hint="use letters, digits and _ . @ - (up to 128 characters), starting with a letter or digit",
            ) from None
    created = find_participant(conn, external_id, study)
    assert created is not None
    return created, True


def update_participant(
    conn: psycopg.Connection,
    participant: Participant,
    *,
    timezone: str | None = None,
    email: str | None = None,
    status: str | None = None,
) -> Participant:
    if timezone is not None:
        check_timezone(timezone)
    if participant.erased_at is not None and (timezone, email, status) != (None, None, None):
        raise ConflictError(
            f"participant {participant.external_id} of study {participant.study} was erased on "
            f"{participant.erased_at:%Y-%m-%d}: the record is a tombstone and cannot change",
            hint="enrol the person again under a new participant id if they consent again",
        )
    conn.execute(
        """UPDATE participants SET timezone = coalesce(%s, timezone), email = coalesce(%s, email),
                                   status = coalesce(%s, status) WHERE id = %s""",
        (timezone, email, status, participant.id),
    )
    updated = find_participant(conn, participant.external_id, participant.study)
    assert updated is not None
    return updated


def find_participant(
    conn: psycopg.Connection, external_id: str, study: str | None = None
) -> Participant | None:
    with conn.cursor(row_factory=class_row(Participant)) as cur:
        if study is not None:
            return cur.execute(
                PARTICIPANT_SELECT + " WHERE p.external_id = %s AND s.name = %s", (external_id, study)
            ).fetchone()
        rows = cur.execute(PARTICIPANT_SELECT + " WHERE p.external_id = %s", (external_id,)).fetchall()
    if len(rows) > 1:
        raise ConflictError(
            f"participant id {external_id} exists in several studies ({', '.join(r.study for r in rows)})",
            hint="pass --study to say which one",
        )
    return rows[0] if rows else None


def get_participant(conn: psycopg.Connection, external_id: str, study: str | None = None) -> Participant:
    found = find_participant(conn, external_id, study)
    if found is None:
        where = f" in study {study}" if study else ""
        raise NotFoundError(
            f"unknown participant {external_id}{where}",
            hint=f"add it first: fitpipe participants add {external_id} --study {study or 'STUDY'} --timezone ZONE",
        )
    return found


def list_participants(conn: psycopg.Connection, study: str | None = None) -> list[Participant]:
    with conn.cursor(row_factory=class_row(Participant)) as cur:
        if study is not None:
            return cur.execute(
                PARTICIPANT_SELECT + " WHERE s.name = %s ORDER BY p.external_id", (study,)
            ).fetchall()
        return cur.execute(PARTICIPANT_SELECT + " ORDER BY s.name, p.external_id").fetchall()
