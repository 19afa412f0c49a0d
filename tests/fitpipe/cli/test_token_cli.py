"""`fitpipe token create --role signin`: the auth proxy's token, which sees no study and only starts sessions."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fitpipe.cli import cli

pytestmark = pytest.mark.db


def test_a_signin_token_is_made_without_studies(fitpipe_env: Path, db: psycopg.Connection) -> None:
    result = CliRunner().invoke(cli, ["token", "create", "--role", "signin", "--name", "dashboard proxy"])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "token 1 (signin, starts sessions for the people an auth proxy vouches for, nothing else); "
        "it is shown only now, store it safely:\n"
    )
    assert result.stdout.startswith("fp_") and result.stdout.count("\n") == 1
    assert db.execute("SELECT role, all_studies FROM api_tokens").fetchall() == [("signin", False)]


@pytest.mark.parametrize("scope", [["--study", "trial"], ["--all-studies"]])
def test_a_signin_token_with_studies_is_refused(fitpipe_env: Path, scope: list[str]) -> None:
    result = CliRunner().invoke(cli, ["token", "create", "--role", "signin", *scope])
    assert (result.exit_code, result.stderr) == (
        2,
        "error: a signin token sees no study: it only starts sessions for people, who bring their own\n"
        "  hint: leave out --study and --all-studies\n",
    )
