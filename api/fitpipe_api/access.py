"""Per-study authorization: a participant outside the caller's studies does not exist for them (404)."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from fitpipe.errors import ConflictError, NotFoundError
from fitpipe.participants import PARTICIPANT_SELECT, Participant
from fitpipe.tokens import Principal

__all__ = ["visible_participant", "visible_participants", "visible_study_id"]


def visible_participant(
    conn: psycopg.Connection, principal: Principal, user_id: str, study: str | None = None
) -> Participant:
    with conn.cursor(row_factory=class_row(Participant)) as cur:
        if study is not None:
            rows = cur.execute(
                PARTICIPANT_SELECT + " WHERE p.external_id = %s AND s.name = %s", (user_id, study)
            ).fetchall()
        else:
            rows = cur.execute(PARTICIPANT_SELECT + " WHERE p.external_id = %s", (user_id,)).fetchall()
    rows = [r for r in rows if principal.sees_study(r.study_id)]
    if not rows:
        raise NotFoundError(
            f"no participant {user_id!r}" + (f" in study {study!r}" if study else ""),
            hint="check the id; a token only sees the participants of its studies",
        )
    if len(rows) > 1:
        raise ConflictError(
            f"participant id {user_id!r} exists in several of your studies ({', '.join(r.study for r in rows)})",
            hint="add study=<name> to the request",
        )
    return rows[0]


def visible_study_id(conn: psycopg.Connection, principal: Principal, study: str) -> int:
    row = conn.execute("SELECT id FROM studies WHERE name = %s", (study,)).fetchone()
    if row is None or not principal.sees_study(int(row[0])):
        raise NotFoundError(f"no study {study!r}", hint="a token only sees its own studies")
    return int(row[0])


def visible_participants(
    conn: psycopg.Connection, principal: Principal, study: str | None = None
) -> list[Participant]:
    with conn.cursor(row_factory=class_row(Participant)) as cur:
        if study is not None:
            visible_study_id(conn, principal, study)
            rows = cur.execute(
                PARTICIPANT_SELECT + " WHERE s.name = %s ORDER BY p.external_id", (study,)
            ).fetchall()
        else:
            rows = cur.execute(PARTICIPANT_SELECT + " ORDER BY s.name, p.external_id").fetchall()
    return [r for r in rows if principal.sees_study(r.study_id)]
