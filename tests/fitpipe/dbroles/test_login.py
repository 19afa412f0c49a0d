"""What a login could do past its grants, as the API checks it before serving."""

from __future__ import annotations

import psycopg
import pytest

from fitpipe.db import with_login
from fitpipe.dbroles import API, inspect_login, refuse_escalating_login
from fitpipe.errors import ConfigError

pytestmark = pytest.mark.db


def test_the_api_role_is_a_least_privilege_login(api_database_url: str) -> None:
    with psycopg.connect(api_database_url) as conn:
        info = inspect_login(conn, expected=API)
    assert (info.user, info.superuser, info.escalations) == ("fitpipe_api", False, ())


def test_a_superuser_that_switched_role_is_still_a_superuser(db: psycopg.Connection) -> None:
    db.execute("SET ROLE fitpipe_api")
    info = inspect_login(db, expected=API)
    assert info.superuser and info.escalations == ("is a superuser",)
    with pytest.raises(ConfigError) as refused:
        refuse_escalating_login(
            db, process="API", role=API, allow=False, allow_setting="FITPIPE_API_ALLOW_SUPERUSER"
        )
    assert (
        "logged in to the database as" in refused.value.message and "is a superuser" in refused.value.message
    )
    assert "FITPIPE_API_ALLOW_SUPERUSER=true" in (refused.value.hint or "")
    assert refuse_escalating_login(db, process="API", role=API, allow=True, allow_setting="X").superuser


def test_membership_in_another_role_and_ownership_are_escalations(
    db: psycopg.Connection, database_url: str
) -> None:
    db.execute("DROP ROLE IF EXISTS fitpipe_test_login")
    db.execute(
        "CREATE ROLE fitpipe_test_login LOGIN PASSWORD 'test-login-pw' IN ROLE fitpipe_owner, fitpipe_api"
    )
    try:
        with psycopg.connect(with_login(database_url, "fitpipe_test_login", "test-login-pw")) as conn:
            info = inspect_login(conn, expected=API)
        assert info.escalations == (
            "can SET ROLE to fitpipe_owner",
            "owns the schema (as fitpipe_owner) and could disable the audit log's trigger",
        )
    finally:
        db.execute("DROP ROLE fitpipe_test_login")
