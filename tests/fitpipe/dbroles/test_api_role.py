"""The API's login on the real database: it reads and appends to the audit log, and nothing else gets past it.

The hole this closes (issue 14): the API used to log in as the superuser and `SET ROLE fitpipe_api`,
which `RESET ROLE` undoes, after which `session_replication_role = replica` silenced the audit log's
trigger and its rows could be deleted.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from fitpipe.migrations import migrate
from fitpipe.participants import add_participant
from fitpipe.tokens import create_token
from tests.conftest import role_passwords
from tests.queries import scalar

pytestmark = pytest.mark.db


@pytest.fixture
def api(api_database_url: str, db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    add_participant(db, "P1", "s1")
    create_token(db, name="t", role="analyst", studies=["s1"])
    db.execute("INSERT INTO audit_log (action) VALUES ('read_timeseries'), ('contact')")
    with psycopg.connect(api_database_url, autocommit=True) as conn:
        yield conn


def _refused(conn: psycopg.Connection, statement: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        conn.execute(statement)  # fixed test statements
    return str(refused.value)


def test_the_api_logs_in_as_its_own_role_and_reset_role_keeps_it(api: psycopg.Connection) -> None:
    api.execute("RESET ROLE")
    assert api.execute("SELECT session_user, current_user").fetchone() == ("fitpipe_api", "fitpipe_api")


def test_the_issue_14_sequence_cannot_delete_audit_rows(
    api: psycopg.Connection, db: psycopg.Connection
) -> None:
    api.execute("SET ROLE fitpipe_api")
    with api.transaction():
        api.execute("RESET ROLE")
        message = _refused(api, "SET LOCAL session_replication_role = replica")
        assert "session_replication_role" in message
    assert "permission denied for table audit_log" in _refused(api, "DELETE FROM audit_log")
    assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (2,)


def test_the_api_cannot_change_or_empty_the_audit_log(api: psycopg.Connection) -> None:
    for statement in (
        "UPDATE audit_log SET action = 'nothing'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "DROP TRIGGER audit_log_append_only ON audit_log",
    ):
        _refused(api, statement)


def test_the_api_appends_to_the_audit_log_but_cannot_read_it_back(api: psycopg.Connection) -> None:
    api.execute("INSERT INTO audit_log (action, detail) VALUES ('read_participant', '{}')")
    _refused(api, "SELECT * FROM audit_log")


def test_the_api_has_no_way_back_to_a_privileged_role(
    api: psycopg.Connection, db: psycopg.Connection
) -> None:
    superuser = scalar(db, "SELECT current_user")
    for role in (superuser, "fitpipe_owner", "fitpipe_ingest", "postgres", "pg_read_all_data"):
        with pytest.raises(psycopg.Error, match="permission denied to set role|does not exist"):
            api.execute(f'SET ROLE "{role}"')
        with pytest.raises(psycopg.Error, match="permission denied|does not exist"):
            api.execute(f'SET SESSION AUTHORIZATION "{role}"')


def test_the_api_cannot_write_data_or_the_schema(api: psycopg.Connection) -> None:
    for statement in (
        "INSERT INTO samples (ts, value, participant_id, metric_id) VALUES (now(), 60, 1, 1)",
        "UPDATE samples SET value = 0",
        "DELETE FROM samples",
        "INSERT INTO rollup_1d (bucket, sum, min, max, participant_id, count, minutes, metric_id) "
        "VALUES (now(), 1, 1, 1, 1, 1, 1, 1)",
        "UPDATE participants SET email = 'x@example.org'",
        "INSERT INTO api_tokens (token_hash, name, role) VALUES ('\\x00', 'mine', 'admin')",
        "UPDATE api_tokens SET role = 'admin'",
        "UPDATE users SET role = 'admin'",
        "UPDATE users SET password_hash = 'chosen'",
        "INSERT INTO users (username, role) VALUES ('me', 'admin')",
        "DELETE FROM contacts",
        "CREATE TABLE public.mine (a int)",
        "ALTER TABLE samples ADD COLUMN x int",
    ):
        _refused(api, statement)


def test_the_api_never_reads_stored_google_tokens(api: psycopg.Connection) -> None:
    _refused(api, "SELECT refresh_token FROM oauth_grants")
    _refused(api, "SELECT access_token FROM oauth_grants")
    api.execute("SELECT participant_id, revoked_at FROM oauth_grants")  # the consent status it shows


def test_after_migrate_the_api_may_connect_but_not_create_temporary_tables(
    api_database_url: str, database_url: str, db: psycopg.Connection
) -> None:
    migrate(db, passwords=role_passwords(database_url))  # database-level grants belong to each database
    with psycopg.connect(api_database_url, autocommit=True) as api:
        _refused(api, "CREATE TEMPORARY TABLE t (a int)")
    public = db.execute("SELECT has_database_privilege('public', current_database(), 'CONNECT')").fetchone()
    assert public == (False,)
