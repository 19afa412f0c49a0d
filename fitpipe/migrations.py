"""Applying sql/NNNN_*.sql in order, once each, copying the metric catalog into the database, and
bringing the login roles and their grants to fitpipe/dbroles/catalog.py.

Each migration runs in its own transaction under an advisory lock (two migrators never interleave),
its version and checksum are recorded in schema_migrations, and a database whose schema is newer
than this code is refused. The roles and grants are repaired on every run, also when no migration is
pending (a database restored without its roles is whole again after one `fitpipe migrate`).

Upgrades without an outage (docs/operations.md, "Upgrades"): migrations are expand-then-contract. An
expand step only adds (tables, nullable or defaulted columns, indexes, grants), so the previous release
keeps working on the new schema. A contract step (dropping or renaming what older code uses) says so in
its header, `-- contract: needs code that knows schema NNNN`, and is recorded with the migration; code
that does not know schema NNNN then stops being ready. Code declares the oldest schema it runs on
(OLDEST_SCHEMA), so readiness accepts a range of schemas, not one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import psycopg

from fitpipe.catalog import METRICS
from fitpipe.dbroles.catalog import DbRole
from fitpipe.dbroles.provision import ensure_roles, grant_as_declared
from fitpipe.errors import SchemaError

__all__ = [
    "Migration",
    "SchemaCompatibility",
    "OLDEST_SCHEMA",
    "available_migrations",
    "migrate",
    "schema_version",
    "check_schema_compatible",
    "check_schema_current",
]

MIGRATION_LOCK = 0x66697470  # "fitp"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CONTRACT = re.compile(
    r"^--\s*contract:\s*needs code that knows schema (\d{4})\b", re.MULTILINE | re.IGNORECASE
)

# The oldest schema this code runs on: everything it reads or writes exists from this version on. Raise it
# in the change whose code starts to need a newer migration (readiness then waits for `fitpipe migrate`).
OLDEST_SCHEMA = 10  # run outcomes as typed rows (0010); erasure and minute reads (0008); sign-in (0006)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Traversable
    """The file: a package resource (fitpipe_sql), or a file of a directory given to migrate()."""

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def requires_code(self) -> int:
        """0 for an expand step; for a contract step, the schema version code must know to run after it."""
        match = _CONTRACT.search(self.sql)
        return int(match.group(1)) if match else 0


def sql_dir() -> Traversable:
    """The migrations this code ships: the top-level sql/ folder, installed as the resource package
    fitpipe_sql (setup.py), so a wheel, an editable install and the image all find them the same way."""
    return files("fitpipe_sql")


def available_migrations(directory: Traversable | None = None) -> list[Migration]:
    directory = directory or sql_dir()
    found = []
    for path in sorted((p for p in directory.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        match = _NAME.match(path.name)
        if not match:
            raise SchemaError(
                f"{path}: migration files must be named NNNN_lowercase_name.sql",
                hint="rename the file, e.g. 0007_add_contacts.sql",
            )
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"two migrations in {directory} share a version number")
    return found


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS 'Migrations applied by `fitpipe migrate` (one row per sql/NNNN_*.sql).';
COMMENT ON COLUMN schema_migrations.version IS 'NNNN of the file name.';
COMMENT ON COLUMN schema_migrations.name IS 'Rest of the file name.';
COMMENT ON COLUMN schema_migrations.checksum IS 'SHA-256 of the file when it was applied.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied.';
"""

# Added by the release that introduced compatibility ranges; older releases insert rows without it (0).
_REQUIRES_CODE_COLUMN = """
ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS requires_code integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN schema_migrations.requires_code IS
    '0 for an expand step; for a contract step, the schema version code must know to still run on this database.';
"""


def schema_version(conn: psycopg.Connection) -> int:
    """Highest applied migration, 0 for an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class SchemaCompatibility:
    """The database's schema and the range of schemas this code runs on."""

    version: int
    """Highest migration applied to the database."""
    oldest: int
    """OLDEST_SCHEMA: the oldest schema this code runs on."""
    newest_known: int
    """The newest migration this code ships."""
    requires_code: int
    """The newest contract step's demand: code must know at least this schema (0: none)."""


def _requires_code(conn: psycopg.Connection) -> int:
    has_column = conn.execute(
        """SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('schema_migrations')
           AND attname = 'requires_code' AND NOT attisdropped"""
    ).fetchone()
    if not has_column:
        return 0
    row = conn.execute("SELECT coalesce(max(requires_code), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def check_schema_compatible(conn: psycopg.Connection) -> SchemaCompatibility:
    """The schema's compatibility, or SchemaError when this code cannot run on it.

    Accepted: any schema from OLDEST_SCHEMA on, also one newer than this code knows, as long as no
    contract step applied to it needs code newer than this. So during a rolling upgrade the previous
    pods stay ready after the new release's (expand) migrations ran, and the new pods are ready before.
    """
    newest_known = max((m.version for m in available_migrations()), default=0)
    version = schema_version(conn)
    compat = SchemaCompatibility(
        version, min(OLDEST_SCHEMA, newest_known), newest_known, _requires_code(conn)
    )
    if version < compat.oldest:
        raise SchemaError(
            f"the database schema is at version {version}, this fitpipe needs at least {compat.oldest}",
            hint="run `fitpipe migrate`",
        )
    if compat.requires_code > newest_known:
        raise SchemaError(
            f"the database schema is at version {version}, whose contract steps need code that knows schema "
            f"{compat.requires_code}; this fitpipe knows up to {newest_known}",
            hint="upgrade fitpipe to the release that wrote this schema",
        )
    return compat


def check_schema_current(conn: psycopg.Connection) -> int:
    """The schema version, or SchemaError when this code cannot run on it (see check_schema_compatible)."""
    return check_schema_compatible(conn).version


def migrate(
    conn: psycopg.Connection,
    directory: Traversable | None = None,
    *,
    passwords: Mapping[DbRole, str | None] | None = None,
    on_change: Callable[[str], None] | None = None,
) -> list[Migration]:
    """Apply pending migrations, then repair roles and grants; return the migrations applied.

    `conn` must be a superuser's, in autocommit mode. `passwords` are set on the login roles (a role
    without one keeps its password); `on_change` hears one line per repair of roles and grants.
    """
    migrations = available_migrations(directory)
    latest = max((m.version for m in migrations), default=0)
    applied_now: list[Migration] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        report = ensure_roles(conn, passwords)
        with conn.transaction():
            conn.execute(_BOOKKEEPING)
            if not _has_requires_code_column(conn):
                conn.execute(_REQUIRES_CODE_COLUMN)
        rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        applied = {int(v): c for v, c in rows}
        newer = [v for v in applied if v > latest]
        if newer:
            raise SchemaError(
                f"the database has migration {max(newer):04d}, newer than this fitpipe knows ({latest:04d})",
                hint="upgrade fitpipe; refusing to touch a schema written by a newer version",
            )
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise SchemaError(
                        f"{migration.path.name} changed after it was applied to this database",
                        hint="never edit an applied migration: add a new NNNN_*.sql file instead",
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql)  # trusted file from sql/
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, requires_code) VALUES (%s, %s, %s, %s)",
                    (migration.version, migration.name, migration.checksum, migration.requires_code),
                )
            applied_now.append(migration)
        sync_catalog(conn)
        grant_as_declared(conn, report)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    if on_change:
        for line in report.changes:
            on_change(line)
        if report.undeclared:
            on_change(
                "no privileges declared for "
                + ", ".join(report.undeclared)
                + " (fitpipe/dbroles/catalog.py): "
                "they keep what their migrations granted"
            )
        for role in report.without_password:
            on_change(f"role {role} has no password: nobody can log in as it until one is given")
    return applied_now


_REBUILD_1M = """
INSERT INTO rollup_1m (bucket, sum, min, max, participant_id, count, minutes, metric_id)
SELECT date_bin('1 minute', ts, '2000-01-03T00:00:00+00') AS b, sum(value), min(value), max(value),
       participant_id, count(*), 1, metric_id
FROM samples WHERE metric_id = %s GROUP BY b, participant_id, metric_id
ON CONFLICT (participant_id, metric_id, bucket) DO UPDATE SET
    count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max, minutes = 1
"""


def _has_requires_code_column(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        """SELECT 1 FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass
           AND attname = 'requires_code' AND NOT attisdropped"""
    ).fetchone()
    return row is not None


def sync_catalog(conn: psycopg.Connection) -> None:
    """Copy fitpipe/catalog.py into the metrics table (insert new, update changed).

    A metric whose Metric.rollup_1m changed (its native resolution crossed one minute) gets its rollup_1m
    rows built from its samples or deleted in the same transaction, so data_1m stays exact.
    """
    with conn.transaction(), conn.cursor() as cur:
        # a directory of migrations before 0008 (tests of older schemas) has no metrics.rollup_1m yet
        flagged = cur.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = 'metrics'::regclass AND attname = 'rollup_1m' "
            "AND NOT attisdropped"
        ).fetchone()
        stored: dict[int, bool] = (
            dict(cur.execute("SELECT id, rollup_1m FROM metrics").fetchall()) if flagged else {}
        )
        columns = "id, name, unit, resolution, min_value, max_value, aggregation, daily, description"
        updates = (
            "name = EXCLUDED.name, unit = EXCLUDED.unit, resolution = EXCLUDED.resolution, "
            "min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value, aggregation = EXCLUDED.aggregation, "
            "daily = EXCLUDED.daily, description = EXCLUDED.description"
        )
        rows = [
            (
                m.id,
                m.name,
                m.unit,
                m.resolution,
                m.min_value,
                m.max_value,
                m.aggregation,
                m.daily,
                m.description,
            )
            + ((m.rollup_1m,) if flagged else ())
            for m in METRICS
        ]
        if flagged:
            columns += ", rollup_1m"
            updates += ", rollup_1m = EXCLUDED.rollup_1m"
        cur.executemany(
            f"INSERT INTO metrics ({columns}) VALUES ({', '.join(['%s'] * len(rows[0]))}) "  # fixed text
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            rows,
        )
        for m in METRICS:
            if m.id not in stored or stored[m.id] == m.rollup_1m:
                continue
            if m.rollup_1m:
                cur.execute(_REBUILD_1M, (m.id,))
            else:
                cur.execute("DELETE FROM rollup_1m WHERE metric_id = %s", (m.id,))
