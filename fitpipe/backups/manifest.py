"""The manifest of a backup (manifest.json beside the archive) and the table digests it records.

A table's digest is its row count and the sum of a 64-bit hash of each row's text, computed with the
session's output settings pinned (UTC, ISO dates, shortest exact floats), so the same rows give the same
digest on any server of the same PostgreSQL major version, whatever their physical order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from fitpipe.errors import InputError

__all__ = [
    "ARCHIVE",
    "MANIFEST",
    "FORMAT",
    "Manifest",
    "TableDigest",
    "table_digests",
    "pin_output_settings",
    "sha256_of",
]

ARCHIVE = "database.dump"
MANIFEST = "manifest.json"
FORMAT = 1

# what a row's text depends on besides its values
_OUTPUT_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}


@dataclass(frozen=True)
class TableDigest:
    rows: int
    digest: str


@dataclass
class Manifest:
    format: int
    created_at: str
    """The snapshot's time (UTC, ISO 8601): the backup holds exactly what was committed then."""
    database: str
    fitpipe_version: str
    schema_version: int
    server_version: str
    timescaledb: str | None
    archive: str
    archive_bytes: int
    archive_sha256: str
    seconds: float
    tables: dict[str, TableDigest] = field(default_factory=dict)
    table_bytes: dict[str, int] = field(default_factory=dict)
    """Size of each dumped table (schema.table) at backup time: the restore's progress measure."""

    def write(self, directory: Path) -> Path:
        path = directory / MANIFEST
        body = asdict(self)
        path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        path.chmod(0o600)
        return path

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            body = json.loads(path.read_text())
            if body.get("format") != FORMAT:
                raise InputError(
                    f"{path}: backup format {body.get('format')!r}, this fitpipe reads format {FORMAT}",
                    hint="restore it with the fitpipe release that made it",
                )
            body["tables"] = {k: TableDigest(**v) for k, v in body.get("tables", {}).items()}
            return cls(**body)
        except FileNotFoundError:
            raise InputError(
                f"{directory} is not a fitpipe backup: it has no {MANIFEST}",
                hint="name the directory `fitpipe db backup` printed, e.g. .fitpipe/backups/fitpipe-20260101T010000Z",
            ) from None
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path} is damaged: {exc}", hint="restore another backup") from None


def pin_output_settings(conn: psycopg.Connection) -> None:
    for name, value in _OUTPUT_SETTINGS.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


def table_digests(conn: psycopg.Connection) -> dict[str, TableDigest]:
    """Row count and digest of every table in schema public (in the connection's current snapshot)."""
    pin_output_settings(conn)
    tables = [
        r[0]
        for r in conn.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"""
        ).fetchall()
    ]
    out = {}
    for table in tables:
        row = conn.execute(
            sql.SQL("SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM {} t").format(
                sql.Identifier(table)
            )
        ).fetchone()
        assert row is not None
        out[table] = TableDigest(rows=int(row[0]), digest=str(row[1]))
    return out


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
