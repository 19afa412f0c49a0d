"""Taking a backup: one exported snapshot, pg_dump's custom-format archive of it, and the manifest.

The snapshot is exported by a REPEATABLE READ transaction that stays open until the archive and the table
digests are done, so pg_dump and the digests see the same committed state while ingest keeps writing
(each loaded file is one transaction: a backup holds a file's rows entirely or not at all). The backup is
written to `<name>.partial/` (mode 700) and renamed when complete, so a directory without that suffix is
always a whole backup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import psycopg

from fitpipe import __version__
from fitpipe.backups.manifest import ARCHIVE, FORMAT, Manifest, sha256_of, table_digests
from fitpipe.backups.tools import dbname_of, remove_tree, run_with_progress
from fitpipe.db import connect
from fitpipe.migrations import schema_version

__all__ = ["BackupResult", "Progress", "create_backup"]

Progress = Callable[[str, int, int], None]
"""(what is being done, bytes done, bytes in all): the tables' on-disk sizes are the measure."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    warnings: list[str]


def create_backup(
    url: str, to: Path, *, digests: bool = True, on_progress: Progress | None = None
) -> BackupResult:
    """Back up the database at `url` (the administrator's login) into a new directory under `to`."""
    started = time.monotonic()
    progress = on_progress or (lambda what, done, total: None)
    to.mkdir(parents=True, exist_ok=True, mode=0o700)
    with connect(url, autocommit=True) as snap:  # BEGIN and COMMIT are ours
        snap.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = snap.execute(
            "SELECT pg_export_snapshot(), transaction_timestamp(), current_setting('server_version')"
        ).fetchone()
        assert row is not None
        snapshot, taken_at, server_version = row
        sizes = _table_sizes(snap)
        stamp = taken_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{dbname_of(url)}-{stamp}"
        final, partial = to / name, to / f"{name}.partial"
        remove_tree(partial)
        partial.mkdir(mode=0o700)
        total = sum(sizes.values())
        done = 0
        current: list[str] = []

        def on_table(table: str) -> None:
            nonlocal done
            if current:
                done += sizes.get(current[0], 0)
            current[:] = [table]
            progress(f"dumping {table}", done, total)

        try:
            warnings = run_with_progress(
                "pg_dump",
                [
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--lock-wait-timeout=60s",
                    f"--file={partial / ARCHIVE}",
                ],
                url,
                on_table,
                what=f"backing up {dbname_of(url)}",
            )
            progress("dumped", total, total)
            tables = {}
            if digests:
                progress("computing table digests (same snapshot)", total, total)
                tables = table_digests(snap)
            manifest = Manifest(
                format=FORMAT,
                created_at=taken_at.astimezone(UTC).isoformat(),
                database=dbname_of(url),
                fitpipe_version=__version__,
                schema_version=schema_version(snap),
                server_version=str(server_version),
                timescaledb=_timescaledb_version(snap),
                archive=ARCHIVE,
                archive_bytes=(partial / ARCHIVE).stat().st_size,
                archive_sha256=sha256_of(partial / ARCHIVE),
                seconds=0.0,
                tables=tables,
                table_bytes=sizes,
            )
            snap.execute("COMMIT")
            (partial / ARCHIVE).chmod(0o600)
            manifest.seconds = round(time.monotonic() - started, 3)
            manifest.write(partial)
            partial.rename(final)
        except BaseException:
            remove_tree(partial)
            raise
    return BackupResult(path=final, manifest=manifest, warnings=warnings)


def _table_sizes(conn: psycopg.Connection) -> dict[str, int]:
    """schema.table -> bytes, named as pg_dump names them in its progress lines."""
    rows = conn.execute(
        """SELECT n.nspname || '.' || c.relname, pg_table_size(c.oid)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"""
    ).fetchall()
    return {name: int(size) for name, size in rows}


def _timescaledb_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return str(row[0]) if row else None
