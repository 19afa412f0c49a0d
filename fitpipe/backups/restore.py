"""Restoring a backup: into a new database beside the target, checked against the manifest, then swapped in.

Order, each step refusing with the database unchanged if it fails:
1. the archive's SHA-256 is the manifest's; the server can run the backup's TimescaleDB version; the
   target database holds no fitpipe schema (or `replace` says to move it aside);
2. `<target>_restoring` is created, TimescaleDB's restore mode is entered, pg_restore runs without owners
   and privileges (the roles of the backed-up cluster need not exist here), restore mode is left;
3. every table's row count and digest are compared with the manifest;
4. the target is renamed `<target>_before_restore_<time>` (kept: drop it when satisfied) or dropped when it
   was empty, and the restored database takes its name;
5. `fitpipe migrate` runs on it: the login roles are created or repaired, the schema handed to
   fitpipe_owner, every grant set, and migrations newer than the backup applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from fitpipe.backups.manifest import Manifest, sha256_of, table_digests
from fitpipe.backups.tools import dbname_of, run_with_progress, with_dbname
from fitpipe.db import connect
from fitpipe.dbroles.catalog import DbRole
from fitpipe.errors import ConflictError, DatabaseError, InputError
from fitpipe.migrations import migrate

__all__ = ["RestoreResult", "restore_backup"]

Progress = Callable[[str, int, int], None]


@dataclass
class RestoreResult:
    database: str
    previous: str | None
    """Where the database that was there before went (None: there was none, or it was empty)."""
    manifest: Manifest
    tables_verified: int
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each phase: check, restore, verify, swap, migrate."""
    role_changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def restore_backup(
    backup: Path,
    url: str,
    *,
    replace: bool = False,
    passwords: Mapping[DbRole, str | None] | None = None,
    on_progress: Progress | None = None,
) -> RestoreResult:
    """Restore the backup directory `backup` as the database of `url` (the administrator's login)."""
    progress = on_progress or (lambda what, done, total: None)
    backup = backup.parent if backup.name == "manifest.json" else backup
    clock = time.monotonic()
    seconds: dict[str, float] = {}

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds[phase] = round(now - clock, 3)
        clock = now

    manifest = Manifest.read(backup)
    archive = backup / manifest.archive
    _check_archive(archive, manifest, progress)
    target = dbname_of(url)
    admin = with_dbname(url, "postgres")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    staging = _name(target, "_restoring")
    with connect(admin, autocommit=True) as server:
        _check_server(server, manifest)
        target_exists, target_has_schema = _target_state(server, url, target)
        if target_has_schema and not replace:
            raise ConflictError(
                f"database {target} already holds a fitpipe schema: restoring over it would replace its data",
                hint=f"pass --replace to restore anyway (the current database is kept as "
                f"{_name(target, '_before_restore_' + stamp)}), or restore into another database",
            )
        _drop(server, staging)  # left by a restore that was interrupted
        server.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(staging)))
    lap("check")
    staging_url = with_dbname(url, staging)
    try:
        warnings = _restore_into(staging_url, archive, manifest, progress)
        lap("restore")
        verified = _verify(staging_url, manifest, progress)
        lap("verify")
    except BaseException:
        with connect(admin, autocommit=True) as server:
            _drop(server, staging)
        raise
    previous = _name(target, "_before_restore_" + stamp) if target_has_schema else None
    with connect(admin, autocommit=True) as server:
        if target_exists:
            if previous:
                _rename(server, target, previous)
            else:
                _drop(server, target)
        _rename(server, staging, target)
    lap("swap")
    progress("fitpipe migrate: roles, grants, newer migrations", 1, 1)
    changes: list[str] = []
    try:
        with connect(url, autocommit=True) as conn:
            for m in migrate(conn, passwords=passwords, on_change=changes.append):
                changes.append(f"applied {m.path.name}")
    except Exception as exc:
        raise DatabaseError(
            f"the backup was restored as {target}, but `fitpipe migrate` failed on it: {exc}",
            hint="fix the cause and run `fitpipe migrate`: until then the API and ingest cannot log in",
        ) from exc
    lap("migrate")
    return RestoreResult(target, previous, manifest, verified, seconds, changes, warnings)


def _name(base: str, suffix: str) -> str:
    return base[: 63 - len(suffix)] + suffix  # PostgreSQL names are at most 63 bytes


def _check_archive(archive: Path, manifest: Manifest, progress: Progress) -> None:
    if not archive.exists():
        raise InputError(f"the backup's archive {archive} is missing", hint="restore another backup")
    size = archive.stat().st_size
    progress("checking the archive (SHA-256)", 0, size)
    if size != manifest.archive_bytes or sha256_of(archive) != manifest.archive_sha256:
        raise InputError(
            f"{archive} is not the archive the backup wrote ({size:,} bytes, manifest says "
            f"{manifest.archive_bytes:,}; or its SHA-256 differs): it was truncated or changed",
            hint="copy the backup again from where it is kept, or restore another backup",
        )
    progress("archive checked", size, size)


def _check_server(server: psycopg.Connection, manifest: Manifest) -> None:
    if not manifest.timescaledb:
        return
    available = server.execute(
        "SELECT 1 FROM pg_available_extension_versions WHERE name = 'timescaledb' AND version = %s",
        (manifest.timescaledb,),
    ).fetchone()
    preload = str(server.execute("SHOW shared_preload_libraries").fetchone()[0])  # type: ignore[index]
    if not available or "timescaledb" not in preload:
        raise DatabaseError(
            f"the backup was made with TimescaleDB {manifest.timescaledb}, which this server "
            + ("does not have installed" if not available else "does not load (shared_preload_libraries)"),
            hint=f"restore onto a server with TimescaleDB {manifest.timescaledb} loaded "
            "(the embedded database: `fitpipe db start` installs the version Debian ships)",
        )


def _target_state(server: psycopg.Connection, url: str, target: str) -> tuple[bool, bool]:
    exists = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone() is not None
    if not exists:
        return False, False
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"""
        ).fetchone()
    return True, bool(row and row[0])


def _restore_into(url: str, archive: Path, manifest: Manifest, progress: Progress) -> list[str]:
    with connect(url, autocommit=True) as conn:
        if manifest.timescaledb:
            conn.execute(
                sql.SQL("CREATE EXTENSION timescaledb VERSION {}").format(sql.Literal(manifest.timescaledb))
            )
            conn.execute("SELECT timescaledb_pre_restore()")
    total = sum(manifest.table_bytes.values())
    done = 0
    current: list[str] = []

    def on_table(table: str) -> None:
        nonlocal done
        if current:
            done += manifest.table_bytes.get(current[0], 0)
        current[:] = [table]
        progress(f"restoring {table}", done, total)

    warnings = run_with_progress(
        "pg_restore",
        ["--no-owner", "--no-privileges", "--exit-on-error", str(archive)],
        url,
        on_table,
        what=f"restoring {archive}",
    )
    progress("restored", total, total)
    with connect(url, autocommit=True) as conn:
        if manifest.timescaledb:
            conn.execute("SELECT timescaledb_post_restore()")
        conn.execute("ANALYZE")  # pg_restore leaves no statistics; the first queries would plan blind
    return warnings


def _verify(url: str, manifest: Manifest, progress: Progress) -> int:
    if not manifest.tables:
        return 0
    progress("comparing every table with the manifest", 0, len(manifest.tables))
    with connect(url, autocommit=True) as conn:
        restored = table_digests(conn)
    wrong = [
        f"{table}: {got.rows if got else 'missing'} rows"
        + (f" (digest {got.digest})" if got else "")
        + f", the backup recorded {want.rows} (digest {want.digest})"
        for table, want in sorted(manifest.tables.items())
        if (got := restored.get(table)) != want
    ]
    if wrong:
        raise DatabaseError(
            "the restored database differs from what the backup recorded:\n  " + "\n  ".join(wrong),
            hint="nothing was replaced; the archive may come from another fitpipe or PostgreSQL version",
        )
    progress("every table matches", len(manifest.tables), len(manifest.tables))
    return len(manifest.tables)


def _drop(server: psycopg.Connection, name: str) -> None:
    server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _rename(server: psycopg.Connection, old: str, new: str) -> None:
    """Rename a database, closing its sessions (TimescaleDB's scheduler reconnects, so keep it out first)."""
    ident = sql.Identifier(old)
    server.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
    for attempt in range(50):
        server.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (old,))
        try:
            server.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident, sql.Identifier(new)))
            break
        except psycopg.errors.ObjectInUse:
            if attempt == 49:
                raise
            time.sleep(0.1)
    server.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(new)))
