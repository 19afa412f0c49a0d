"""Database URL resolution and redaction."""

from __future__ import annotations

import pytest

from fitpipe.db import database_url, redact
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
        db_name="trial",  # type: ignore[call-arg]
        db_user="me",
        db_pass="p@ss word",
    )
    assert database_url(settings) == "postgresql://me:p%40ss%20word@db.example:6543/trial"


def test_database_url_wins_over_db_variables() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://a@b/c", db_host="ignored")  # type: ignore[call-arg]
    assert database_url(settings) == "postgresql://a@b/c"
