"""The migrator on a real database: order, idempotence, refusing edited migrations; the range of schemas
the code runs on (expand-then-contract)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from fitpipe.catalog import METRICS
from fitpipe.errors import SchemaError
from fitpipe.migrations import (
    OLDEST_SCHEMA,
    Migration,
    available_migrations,
    check_schema_compatible,
    check_schema_current,
    migrate,
    schema_version,
)

pytestmark = pytest.mark.db


def test_migrating_twice_applies_nothing_the_second_time(db: psycopg.Connection) -> None:
    assert migrate(db) == []
    assert schema_version(db) == max(m.version for m in available_migrations())
    check_schema_current(db)


def test_catalog_is_copied_into_metrics_table(db: psycopg.Connection) -> None:
    rows: dict[str, str] = dict(db.execute("SELECT name, unit FROM metrics").fetchall())
    assert rows == {m.name: m.unit for m in METRICS}


def test_migrate_refuses_a_schema_newer_than_the_code(db: psycopg.Connection) -> None:
    db.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
    with pytest.raises(SchemaError, match="newer than this fitpipe"):
        migrate(db)


def test_a_newer_expand_only_schema_is_compatible(db: psycopg.Connection) -> None:
    # the next release migrated (expand step): this release's pods stay ready during the rollout
    db.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
    compat = check_schema_compatible(db)
    # requires_code is what the shipped contract steps need (this code knows it), not the future step's
    assert (compat.version, compat.requires_code) == (
        9999,
        max(m.requires_code for m in available_migrations()),
    )
    assert compat.newest_known == max(m.version for m in available_migrations())
    assert check_schema_current(db) == 9999


def test_a_contract_step_for_newer_code_makes_this_code_incompatible(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO schema_migrations (version, name, checksum, requires_code) VALUES (9999, 'drop_x', 'x', 9998)"
    )
    with pytest.raises(
        SchemaError, match="contract steps need code that knows schema 9998; this fitpipe knows up to"
    ):
        check_schema_compatible(db)


def test_a_schema_older_than_the_oldest_supported_is_refused(db: psycopg.Connection) -> None:
    db.execute("DELETE FROM schema_migrations WHERE version >= %s", (OLDEST_SCHEMA,))
    with pytest.raises(SchemaError, match=f"needs at least {OLDEST_SCHEMA}") as raised:
        check_schema_compatible(db)
    assert raised.value.hint == "run `fitpipe migrate`"


def test_the_oldest_supported_schema_is_accepted(db: psycopg.Connection) -> None:
    db.execute("DELETE FROM schema_migrations WHERE version > %s", (OLDEST_SCHEMA,))
    assert check_schema_compatible(db).version == OLDEST_SCHEMA


def test_a_contract_header_is_recorded_with_the_migration(db: psycopg.Connection, tmp_path: Path) -> None:
    for m in available_migrations():
        (tmp_path / m.path.name).write_bytes(m.path.read_bytes())
    latest = max(m.version for m in available_migrations())
    (tmp_path / f"{latest + 1:04d}_contract.sql").write_text(
        f"-- drops what code before {latest + 1:04d} reads\n"
        f"-- contract: needs code that knows schema {latest + 1:04d}\nSELECT 1;\n"
    )
    migrate(db, tmp_path)
    row = db.execute(
        "SELECT requires_code FROM schema_migrations WHERE version = %s", (latest + 1,)
    ).fetchone()
    assert row == (latest + 1,)
    # the shipped code knows only `latest`: it is not ready on this schema
    with pytest.raises(SchemaError, match=f"knows schema {latest + 1}"):
        check_schema_compatible(db)


_CONTRACTING = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN|VIEW|MATERIALIZED\s+VIEW|FUNCTION|TYPE|SCHEMA)\b|RENAME\b"
    r"|ALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b|SET\s+NOT\s+NULL\b)",
    re.IGNORECASE,
)


@pytest.mark.parametrize("migration", available_migrations(), ids=lambda m: m.path.name)
def test_a_migration_that_removes_or_renames_declares_itself_a_contract_step(migration: Migration) -> None:
    """Expand-then-contract (docs/operations.md): the previous release must run on the new schema."""
    code = "\n".join(line.split("--", 1)[0] for line in migration.sql.splitlines())
    found = _CONTRACTING.search(code)
    if found and not migration.requires_code:
        pytest.fail(
            f"{migration.path.name} has {found.group(0)!r}, which breaks the previous release: split it into an "
            "expand step now and a contract step in a later release, whose header says "
            "'-- contract: needs code that knows schema NNNN'"
        )


def test_refuses_an_applied_migration_that_was_edited(db: psycopg.Connection, tmp_path: Path) -> None:
    for m in available_migrations():
        (tmp_path / m.path.name).write_text(m.sql + "\n-- edited\n")
    with pytest.raises(SchemaError, match="changed after it was applied"):
        migrate(db, tmp_path)


def test_applies_new_migrations_in_order(db: psycopg.Connection, tmp_path: Path) -> None:
    for m in available_migrations():
        (tmp_path / m.path.name).write_bytes(m.path.read_bytes())
    latest = max(m.version for m in available_migrations())
    (tmp_path / f"{latest + 2:04d}_second.sql").write_text(
        "ALTER TABLE t_first ADD COLUMN IF NOT EXISTS b int;"
    )
    (tmp_path / f"{latest + 1:04d}_first.sql").write_text("CREATE TABLE IF NOT EXISTS t_first (a int);")
    applied = migrate(db, tmp_path)
    assert [m.name for m in applied] == ["first", "second"]
    cols = [
        r[0]
        for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 't_first' ORDER BY ordinal_position"
        )
    ]
    assert cols == ["a", "b"]


def test_badly_named_migration_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("SELECT 1;")
    with pytest.raises(SchemaError, match="NNNN_lowercase_name.sql"):
        available_migrations(tmp_path)


def test_every_table_and_column_has_a_comment(db: psycopg.Connection) -> None:
    missing = db.execute(
        """
        SELECT c.relname || coalesce('.' || a.attname, '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r'
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p')
          AND ((a.attname IS NULL AND obj_description(c.oid, 'pg_class') IS NULL)
               OR (a.attname IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
        ORDER BY 1
        """
    ).fetchall()
    assert [m[0] for m in missing] == []


def test_samples_is_a_hypertable_with_one_index(db: psycopg.Connection, timescaledb_loaded: bool) -> None:
    indexes = [r[0] for r in db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'samples'")]
    assert indexes == ["samples_key"]
    if not timescaledb_loaded:
        pytest.skip("TimescaleDB is not loaded in this server: samples is a plain table")
    row = db.execute(
        "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name IN "
        "('samples', 'rollup_1m', 'rollup_1h', 'rollup_1d')"
    ).fetchone()
    assert row is not None and row[0] == 4
