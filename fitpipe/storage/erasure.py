"""Erasing a participant who withdrew consent: every row that refers to them, in one transaction, audited.

sql/0008_storage.sql's fitpipe_erase_participant() deletes from every table with a participant_id column
(samples in compressed and uncompressed chunks, rollups, sleep sessions and their stages, cursors, the file
manifest, quarantined raw text, data sources, Google grants with their tokens, consent links, sync state,
notifications, contacts), keeps the participants row as a tombstone (id, study, external id, erased_at; no
email, time zone or dates) because the append-only audit log refers to it, and appends one
`erase_participant` audit row naming who asked. The audit log keeps its earlier rows: they say who read or
contacted whom and when, with request parameters (metrics, dates, formats, contact reason codes), never a
measured value. The participant's inbox folder ($FITPIPE_INBOX/<study>/<participant>, raw exports) is
removed by whoever has the inbox: the CLI right away, the daily run for erasures made through the API.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import psycopg

from fitpipe.participants import Participant

__all__ = [
    "ErasureReport",
    "erase_participant",
    "erasure_preview",
    "remove_inbox_folder",
    "remove_erased_inboxes",
]


@dataclass(frozen=True)
class ErasureReport:
    study: str
    participant: str
    rows: dict[str, int]
    """Rows deleted per table."""
    previously_erased: datetime | None
    """When an earlier erasure ran (this one then only removed what was written since, normally nothing)."""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def erasure_preview(conn: psycopg.Connection, participant: Participant) -> dict[str, int]:
    """Rows an erasure would delete, per table (the same tables the SQL function visits)."""
    tables = [
        r[0]
        for r in conn.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'participant_id' AND NOT a.attisdropped
               WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p')
                 AND c.relname NOT IN ('participants', 'audit_log')
               ORDER BY c.relname"""
        ).fetchall()
    ]
    counts: dict[str, int] = {}
    for table in tables:
        row = conn.execute(
            f'SELECT count(*) FROM public."{table}" WHERE participant_id = %s',  # name from pg_class
            (participant.id,),
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    row = conn.execute(
        "SELECT count(*) FROM sleep_stages st JOIN sleep_sessions s ON s.id = st.session_id WHERE s.participant_id = %s",
        (participant.id,),
    ).fetchone()
    counts["sleep_stages"] = int(row[0]) if row else 0
    return dict(sorted(counts.items()))


def erase_participant(
    conn: psycopg.Connection,
    participant: Participant,
    *,
    actor: dict[str, object],
    token_id: int | None = None,
    user_id: int | None = None,
    session_id: int | None = None,
    request_id: str | None = None,
) -> ErasureReport:
    """Erase one participant (one transaction, one audit row under token_id or the signed-in user_id and
    session_id). `actor` goes into the audit detail ({"via": "cli", "os_user": ...} or {"via": "api"});
    never put health data in it."""
    with conn.transaction():
        before = conn.execute(
            "SELECT erased_at FROM participants WHERE id = %s", (participant.id,)
        ).fetchone()
        row = conn.execute(
            "SELECT fitpipe_erase_participant(%s, %s, %s, %s, %s, %s::jsonb)",
            (participant.id, token_id, user_id, session_id, request_id, orjson.dumps(actor).decode()),
        ).fetchone()
    rows = {str(k): int(v) for k, v in (row[0] if row else {}).items()}
    return ErasureReport(
        study=participant.study,
        participant=participant.external_id,
        rows=dict(sorted(rows.items())),
        previously_erased=before[0] if before else None,
    )


def remove_inbox_folder(inbox: Path, study: str, external_id: str) -> Path | None:
    """Delete <inbox>/<study>/<participant> (the raw exports); returns it when it existed."""
    folder = inbox / study / external_id
    if folder.parent.parent != inbox or not folder.is_dir():  # ids are checked names; never leave the inbox
        return None
    shutil.rmtree(folder)
    return folder


def remove_erased_inboxes(conn: psycopg.Connection, inbox: Path) -> list[Path]:
    """Remove the inbox folders of every erased participant still present (erasures made through the API)."""
    rows = conn.execute(
        "SELECT s.name, p.external_id FROM participants p JOIN studies s ON s.id = p.study_id "
        "WHERE p.erased_at IS NOT NULL ORDER BY 1, 2"
    ).fetchall()
    removed = [remove_inbox_folder(inbox, study, external_id) for study, external_id in rows]
    return [r for r in removed if r is not None]
