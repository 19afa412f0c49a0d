"""`fitpipe users`: exact output of each command, the password printed once and usable, errors with hints."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from fitpipe.cli import cli
from fitpipe.participants import add_participant
from fitpipe.passwords import verify_password
from fitpipe.settings import reset_settings_cache
from tests.queries import scalar

pytestmark = pytest.mark.db


@pytest.fixture
def env(fitpipe_env: Path, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> psycopg.Connection:
    """The CLI on the test database, studies trial and pilot, cheap password hashes."""
    monkeypatch.setenv("FITPIPE_PASSWORD_SCRYPT_N", "1024")
    reset_settings_cache()
    add_participant(db, "P1", "trial")
    add_participant(db, "Q1", "pilot")
    return db


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["users", *args], input=stdin)


def stored_hash(db: psycopg.Connection, username: str) -> str:
    row = db.execute("SELECT password_hash FROM users WHERE username = %s", (username,)).fetchone()
    assert row is not None
    return str(row[0])


def test_add_prints_a_generated_password_once_alone_on_stdout(env: psycopg.Connection) -> None:
    result = run("add", "Alice", "--role", "coordinator", "--study", "trial", "--study", "pilot")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "user alice (coordinator, studies: pilot, trial) created; the password is shown only now, "
        "hand it over safely:\n"
    )
    password = result.stdout.strip()
    assert len(password) == 20 and result.stdout == password + "\n"
    assert verify_password(stored_hash(env, "alice"), password)
    assert not verify_password(stored_hash(env, "alice"), password + "x")


def test_add_takes_a_password_from_stdin_and_prints_none(env: psycopg.Connection) -> None:
    result = run(
        "add", "bea", "--role", "analyst", "-s", "trial", "--password-stdin", stdin="a long passphrase here\n"
    )
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "user bea (analyst, studies: trial) created\n")
    assert verify_password(stored_hash(env, "bea"), "a long passphrase here")


def test_add_a_proxy_only_user(env: psycopg.Connection) -> None:
    result = run(
        "add", "carl", "-r", "admin", "--all-studies", "-e", "carl@hospital.example", "--no-password"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == "user carl (admin, studies: all) created; signs in through the auth proxy only\n"
    assert env.execute("SELECT password_hash FROM users").fetchall() == [(None,)]


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (
            ["dora", "-r", "coordinator", "-s", "trail"],
            None,
            4,
            "error: no study 'trail' (known: pilot, trial)\n"
            "  hint: check the spelling; a study exists once it has participants (`fitpipe participants add`)\n",
        ),
        (
            ["dora", "-r", "coordinator", "--all-studies"],
            None,
            2,
            "error: only admins can see all studies\n  hint: name the studies with --study\n",
        ),
        (
            ["dora", "-r", "analyst"],
            None,
            2,
            "error: a user must have at least one study\n  hint: pass --study S (repeatable)\n",
        ),
        (
            ["dora smith", "-r", "analyst", "-s", "trial"],
            None,
            6,
            "error: field username: invalid user name 'dora smith'\n"
            "  hint: use 1-128 lower case letters, digits and . _ @ + - (starting with a letter or digit)\n",
        ),
        (
            ["dora", "-r", "analyst", "-s", "trial", "--password-stdin"],
            "short\n",
            6,
            "error: field password: the password is too short (5 characters, at least 12)\n"
            "  hint: leave the password out to have one generated\n",
        ),
    ],
    ids=["unknown study", "all studies not admin", "no study", "bad name", "short password"],
)
def test_add_refuses_with_a_message_and_a_hint(
    env: psycopg.Connection, args: list[str], stdin: str | None, code: int, message: str
) -> None:
    result = run("add", *args, stdin=stdin)
    assert (result.exit_code, result.stderr, result.stdout) == (code, message, "")
    assert env.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_add_refuses_a_taken_name_or_email(env: psycopg.Connection) -> None:
    assert run("add", "eve", "-r", "analyst", "-s", "trial", "-e", "Eve@x.org").exit_code == 0
    again = run("add", "EVE", "-r", "analyst", "-s", "trial")
    assert (again.exit_code, again.stderr) == (
        5,
        "error: user 'eve' exists already\n  hint: see `fitpipe users list`\n",
    )
    same_mail = run("add", "eva", "-r", "analyst", "-s", "trial", "-e", "eve@X.org")
    assert same_mail.stderr.startswith("error: email 'eve@X.org' (user 'eve') exists already\n")


def test_list_shows_role_studies_status_and_never_a_password(env: psycopg.Connection) -> None:
    alice = run("add", "alice", "-r", "coordinator", "-s", "trial", "-e", "alice@hospital.example")
    run("add", "bob", "-r", "analyst", "-s", "trial", "-s", "pilot")
    run("add", "carl", "-r", "admin", "--all-studies", "--no-password")
    run("add", "dan", "-r", "analyst", "-s", "pilot")
    run("disable", "bob")
    env.execute(
        "UPDATE users SET created_at = '2026-03-01 08:00Z', last_sign_in_at = CASE WHEN username = 'alice' "
        "THEN timestamptz '2026-03-02 09:30Z' END"
    )
    env.execute("UPDATE users SET locked_until = '2999-01-01 10:15Z' WHERE username = 'dan'")
    result = run("list")
    assert result.exit_code == 0, result.output
    assert alice.stdout.strip() not in result.output
    assert result.stdout == LIST


LIST = """\
┏━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┓
┃ user  ┃                  email ┃        role ┃     studies ┃                            status ┃        password ┃ last sign-in (UTC) ┃    created ┃
┡━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━┩
│ alice │ alice@hospital.example │ coordinator │       trial │                            active │             yes │   2026-03-02 09:30 │ 2026-03-01 │
│ bob   │                      - │     analyst │ pilot,trial │                          disabled │             yes │                  - │ 2026-03-01 │
│ carl  │                      - │       admin │         all │                            active │ no (proxy only) │                  - │ 2026-03-01 │
│ dan   │                      - │     analyst │       pilot │ locked until 2999-01-01 10:15 UTC │             yes │                  - │ 2026-03-01 │
└───────┴────────────────────────┴─────────────┴─────────────┴───────────────────────────────────┴─────────────────┴────────────────────┴────────────┘
"""


def test_disable_ends_sessions_and_enable_lifts_disable_and_lock(env: psycopg.Connection) -> None:
    run("add", "alice", "-r", "coordinator", "-s", "trial")
    user_id = scalar(env, "SELECT id FROM users")
    for token in (b"one", b"two"):
        env.execute(
            "INSERT INTO user_sessions (token_hash, user_id, via, expires_at, idle_timeout) "
            "VALUES (%s, %s, 'password', now() + interval '1 hour', interval '30 minutes')",
            (token, user_id),
        )
    disabled = run("disable", "alice")
    assert (disabled.exit_code, disabled.stderr) == (0, "user alice disabled; 2 open sessions ended\n")
    assert env.execute("SELECT DISTINCT end_reason FROM user_sessions").fetchall() == [("disabled",)]
    env.execute("UPDATE users SET locked_until = now() + interval '1 hour', failed_attempts = 2")
    enabled = run("enable", "Alice")
    assert (enabled.exit_code, enabled.stderr) == (0, "user alice enabled\n")
    assert env.execute("SELECT disabled_at, locked_until, failed_attempts FROM users").fetchone() == (
        None,
        None,
        0,
    )


def test_reset_password_prints_the_new_one_once_and_ends_sessions(env: psycopg.Connection) -> None:
    first = run("add", "alice", "-r", "coordinator", "-s", "trial").stdout.strip()
    env.execute(
        "INSERT INTO user_sessions (token_hash, user_id, via, expires_at, idle_timeout) "
        "SELECT 'x', id, 'password', now() + interval '1 hour', interval '30 minutes' FROM users"
    )
    env.execute("UPDATE users SET locked_until = now() + interval '1 hour'")
    result = run("reset-password", "alice")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "password of alice reset; 1 open session ended; the new password is shown only now:\n"
    )
    second = result.stdout.strip()
    assert verify_password(stored_hash(env, "alice"), second)
    assert not verify_password(stored_hash(env, "alice"), first)
    assert env.execute("SELECT locked_until FROM users").fetchone() == (None,)
    chosen = run("reset-password", "alice", "--password-stdin", stdin="my own long password\n")
    assert (chosen.stdout, chosen.stderr) == ("", "password of alice set; 0 open sessions ended\n")


@pytest.mark.parametrize("command", ["disable", "enable", "reset-password"])
def test_an_unknown_user_is_named(env: psycopg.Connection, command: str) -> None:
    result = run(command, "nobody")
    assert (result.exit_code, result.stderr) == (
        4,
        "error: no user 'nobody'\n  hint: see `fitpipe users list`\n",
    )
