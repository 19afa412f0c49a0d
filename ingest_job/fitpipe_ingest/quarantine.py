"""Writing rejected records to the quarantine table: once per (participant, source, file, record, field, reason)."""

from __future__ import annotations

import re

import psycopg

from fitpipe_ingest.records import Rejected, raw_text

__all__ = ["store_rejected", "reason_kind"]

_KINDS = (
    ("nonexistent_local_time", re.compile(r"does not exist|nonexistent|DST gap|clocks went forward", re.I)),
    ("ambiguous_local_time", re.compile(r"ambiguous", re.I)),
    ("out_of_range", re.compile(r"range", re.I)),
    ("bad_timestamp", re.compile(r"date|time", re.I)),
    ("not_a_number", re.compile(r"number|numeric|nan|inf|float|integer", re.I)),
    ("missing_field", re.compile(r"missing|empty|required|no value", re.I)),
)


def reason_kind(rejected: Rejected) -> str:
    """A low-cardinality class for metrics labels; parsers may set it, else it is read from the reason."""
    if rejected.kind:
        return rejected.kind
    for kind, pattern in _KINDS:
        if pattern.search(rejected.reason) or pattern.search(rejected.field):
            return kind
    return "malformed"


def store_rejected(
    cur: psycopg.Cursor, rows: list[tuple[int | None, Rejected]], source: str, run_id: int | None
) -> None:
    if not rows:
        return
    cur.executemany(
        """
        INSERT INTO quarantine (participant_id, source, file, record, field, reason, raw, run_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (participant_id, source, file, record, field, reason)
        DO UPDATE SET last_seen = now(), run_id = EXCLUDED.run_id, raw = EXCLUDED.raw
        """,
        [(pid, source, r.file, r.record, r.field, r.reason, raw_text(r.raw), run_id) for pid, r in rows],
    )
