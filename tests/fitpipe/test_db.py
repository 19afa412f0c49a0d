"""Database URL resolution (the administrator's and each process role's login) and redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from fitpipe.db import database_url, redact, role_passwords, with_login
from fitpipe.dbroles import API, INGEST
from fitpipe.errors import ConfigError
from fitpipe.settings import Settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("host=h user=u password=s3cret dbname=db", "host=h user=u password=*** dbname=db"),
        ("host=h password='a b\\'c' dbname=db", "host=h password=*** dbname=db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_redact_hides_passwords(url: str, expected: str) -> None:
    assert redact(url) == expected


def test_original_db_variables_build_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        _env_file=None,
        database_url=None,
        db_host="db.example",
        db_port=6543,
        db_name="trial",
        db_user="me",
        db_pass=SecretStr("p@ss word"),
    )
    assert database_url(settings) == "postgresql://me:p%40ss%20word@db.example:6543/trial"


def test_database_url_wins_over_db_variables() -> None:
    settings = Settings(_env_file=None, database_url=SecretStr("postgresql://a@b/c"), db_host="ignored")
    assert database_url(settings) == "postgresql://a@b/c"


# ---- each process's own login ------------------------------------------------------------------------
def test_a_role_logs_in_with_its_password_on_the_administrators_server() -> None:
    settings = Settings(
        _env_file=None,
        db_host="db.example",
        db_user="postgres",
        db_pass=SecretStr("admin"),
        fitpipe_api_db_password=SecretStr("api pw"),
    )
    assert database_url(settings, role=API) == "postgresql://fitpipe_api:api%20pw@db.example:5432/fitpipe"
    # no password for the ingest role: the one login of a single-URL setup
    assert database_url(settings, role=INGEST) == "postgresql://postgres:admin@db.example:5432/fitpipe"


def test_a_full_role_url_wins_and_its_password_is_the_one_migrate_sets() -> None:
    settings = Settings(
        _env_file=None,
        database_url=SecretStr("postgresql://postgres:admin@h/trial?sslmode=require"),
        fitpipe_ingest_database_url=SecretStr("postgresql://fitpipe_ingest:from-url@h/trial"),
        fitpipe_ingest_db_password=SecretStr("ignored"),
    )
    assert database_url(settings, role=INGEST) == "postgresql://fitpipe_ingest:from-url@h/trial"
    assert role_passwords(settings)[INGEST] == "from-url"
    assert role_passwords(settings)[API] is None


def test_with_login_keeps_the_server_and_options() -> None:
    assert (
        with_login("postgresql://a:b@h:6432/db?sslmode=require", "u", "p w")
        == "postgresql://u:p%20w@h:6432/db?sslmode=require"
    )
    assert conninfo_to_dict(with_login("host=h dbname=db user=a password=b", "u", "p")) == {
        "host": "h",
        "dbname": "db",
        "user": "u",
        "password": "p",
    }


def test_the_embedded_database_gives_each_role_its_generated_password(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "db.json").write_text(json.dumps({"password": "su", "port": 5999}))
    settings = Settings(_env_file=None, fitpipe_home=home)
    with pytest.raises(ConfigError, match="run `fitpipe migrate`"):
        database_url(settings, role=API)
    passwords = role_passwords(settings)  # what `fitpipe migrate` does first
    assert database_url(settings) == "postgresql://fitpipe:su@127.0.0.1:5999/fitpipe"
    assert (
        database_url(settings, role=API)
        == f"postgresql://fitpipe_api:{passwords[API]}@127.0.0.1:5999/fitpipe"
    )
    assert database_url(settings, role=INGEST).startswith(f"postgresql://fitpipe_ingest:{passwords[INGEST]}@")
