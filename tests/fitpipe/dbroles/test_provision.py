"""`fitpipe migrate` repairs roles and grants on every run: drift, lost grants, a role made too powerful.

The login roles are the test server's (shared by every test database), so a test that changes one puts it
back by migrating again, also when it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe.db import with_login
from fitpipe.dbroles.catalog import API, INGEST
from fitpipe.dbroles.provision import provision, scram_matches
from fitpipe.errors import DatabaseError
from fitpipe.migrations import available_migrations, migrate
from tests.conftest import role_passwords
from tests.queries import scalar

pytestmark = pytest.mark.db


@pytest.fixture
def repaired(db: psycopg.Connection, database_url: str) -> Iterator[list[str]]:
    """Lines of the repair of this test's damage; roles are migrated back afterwards either way."""
    changes: list[str] = []
    try:
        yield changes
    finally:
        migrate(db, passwords=role_passwords(database_url))


def _migrate(db: psycopg.Connection, database_url: str) -> list[str]:
    lines: list[str] = []
    migrate(db, passwords=role_passwords(database_url), on_change=lines.append)
    return lines


def test_a_second_migrate_changes_nothing(db: psycopg.Connection, database_url: str) -> None:
    _migrate(db, database_url)  # this database's own database-level grants (not copied from the template)
    assert _migrate(db, database_url) == []


def test_hand_made_grants_are_revoked_and_lost_ones_restored(
    db: psycopg.Connection, database_url: str, repaired: list[str]
) -> None:
    _migrate(db, database_url)
    db.execute("GRANT DELETE, UPDATE ON audit_log TO fitpipe_api")
    db.execute("GRANT SELECT ON api_tokens TO fitpipe_ingest")
    db.execute("GRANT SELECT ON samples TO PUBLIC")
    db.execute("REVOKE INSERT ON samples FROM fitpipe_ingest")
    db.execute("REVOKE UPDATE (last_used_at) ON api_tokens FROM fitpipe_api")
    lines = _migrate(db, database_url)
    assert sorted(lines) == [
        "api_tokens: granted UPDATE(last_used_at) to fitpipe_api",
        "api_tokens: revoked SELECT from fitpipe_ingest",
        "audit_log: revoked DELETE, UPDATE from fitpipe_api",
        "samples: granted INSERT to fitpipe_ingest",
        "samples: revoked SELECT from PUBLIC",
    ]
    assert _migrate(db, database_url) == []


def test_a_role_given_more_power_is_brought_back(
    db: psycopg.Connection, database_url: str, repaired: list[str]
) -> None:
    db.execute("ALTER ROLE fitpipe_api CREATEROLE NOLOGIN")
    db.execute("GRANT fitpipe_owner TO fitpipe_ingest")
    lines = _migrate(db, database_url)
    assert "role fitpipe_api: set LOGIN NOCREATEROLE" in lines
    assert "role fitpipe_ingest: removed from role fitpipe_owner" in lines
    row = db.execute(
        "SELECT rolcanlogin, rolcreaterole FROM pg_roles WHERE rolname = 'fitpipe_api'"
    ).fetchone()
    assert row == (True, False)


def test_an_object_owned_by_someone_else_is_handed_to_the_owner(
    db: psycopg.Connection, database_url: str, repaired: list[str]
) -> None:
    superuser = scalar(db, "SELECT current_user")
    db.execute(f'ALTER TABLE contacts OWNER TO "{superuser}"')
    db.execute(f'ALTER VIEW raw_data OWNER TO "{superuser}"')
    assert "handed to fitpipe_owner: 1 table, 1 view" in _migrate(db, database_url)


def test_migrate_with_nothing_to_do_still_restores_all_grants(
    fitpipe_env: Path, db: psycopg.Connection, repaired: list[str]
) -> None:
    """What a restore without privileges (pg_restore --no-privileges) leaves: the schema, no grants."""
    tables = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    for table in tables:
        db.execute(f"REVOKE ALL ON {table} FROM fitpipe_api, fitpipe_ingest")
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "(nothing to do)" in result.output
    assert "roles: samples: granted INSERT, SELECT, UPDATE to fitpipe_ingest" in result.output
    assert "roles: audit_log: granted INSERT to fitpipe_api" in result.output
    again = CliRunner().invoke(cli, ["migrate"])
    assert "roles and grants: as declared" in again.output


def test_passwords_are_set_and_an_unchanged_one_is_not_set_again(
    db: psycopg.Connection, database_url: str, repaired: list[str]
) -> None:
    passwords = role_passwords(database_url) | {API: "a new password, with spaces & ünïcode"}
    lines: list[str] = []
    migrate(db, passwords=passwords, on_change=lines.append)
    assert "role fitpipe_api: password set" in lines
    url = with_login(database_url, "fitpipe_api", "a new password, with spaces & ünïcode")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT session_user").fetchone() == ("fitpipe_api",)
    lines.clear()
    migrate(db, passwords=passwords, on_change=lines.append)
    assert [line for line in lines if "password" in line] == []
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(with_login(database_url, "fitpipe_api", role_passwords(database_url)[API] or ""))


def test_the_stored_verifier_is_recognised(db: psycopg.Connection, database_url: str) -> None:
    stored = scalar(db, "SELECT rolpassword FROM pg_authid WHERE rolname = 'fitpipe_ingest'")
    assert stored.startswith("SCRAM-SHA-256$")
    assert scram_matches(stored, role_passwords(database_url)[INGEST] or "")
    assert not scram_matches(stored, "wrong")
    assert not scram_matches("md5abc", "x")


def test_migrate_refuses_a_login_that_is_not_a_superuser(ingest_database_url: str) -> None:
    with (
        psycopg.connect(ingest_database_url, autocommit=True) as conn,
        pytest.raises(DatabaseError) as refused,
    ):
        provision(conn)
    assert "fitpipe_ingest, which is not a superuser" in refused.value.message
    assert "DATABASE_URL" in (refused.value.hint or "")


def test_a_table_without_declared_privileges_is_named_and_readable_by_the_api(
    db: psycopg.Connection, database_url: str, tmp_path: Path
) -> None:
    for m in available_migrations():
        (tmp_path / m.path.name).write_bytes(m.path.read_bytes())
    latest = max(m.version for m in available_migrations())
    (tmp_path / f"{latest + 1:04d}_extra.sql").write_text(
        "CREATE TABLE extra (a int); GRANT INSERT ON extra TO fitpipe_ingest;"
    )
    lines: list[str] = []
    migrate(db, tmp_path, passwords=role_passwords(database_url), on_change=lines.append)
    assert any(line.startswith("no privileges declared for extra ") for line in lines)
    privileges = db.execute(
        """SELECT has_table_privilege('fitpipe_api', 'extra', 'SELECT'), has_table_privilege('fitpipe_api', 'extra', 'INSERT'),
                  has_table_privilege('fitpipe_ingest', 'extra', 'INSERT'), has_table_privilege('fitpipe_ingest', 'extra', 'SELECT')"""
    ).fetchone()
    assert privileges == (True, False, True, False)


def test_lost_and_hand_made_function_grants_are_repaired(
    db: psycopg.Connection, database_url: str, repaired: list[str]
) -> None:
    _migrate(db, database_url)
    db.execute("REVOKE EXECUTE ON FUNCTION fitpipe_compress_chunk(regclass) FROM fitpipe_ingest")
    db.execute(
        "GRANT EXECUTE ON FUNCTION fitpipe_erase_participant(integer,integer,integer,bigint,text,jsonb) TO PUBLIC"
    )
    lines = _migrate(db, database_url)
    assert sorted(lines) == [
        "function fitpipe_compress_chunk: granted EXECUTE to fitpipe_ingest",
        "function fitpipe_erase_participant: revoked EXECUTE from PUBLIC",
    ]
    assert _migrate(db, database_url) == []
