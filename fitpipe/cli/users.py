"""`fitpipe users add|list|disable|enable|reset-password`: the people who sign in to the dashboard."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from fitpipe.cli.output import print_table, say
from fitpipe.db import connect
from fitpipe.errors import InputError
from fitpipe.settings import get_settings
from fitpipe.users import (
    USER_ROLES,
    PasswordPolicy,
    User,
    add_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
)

__all__ = ["users"]

_STDIN_HELP = "Read the password from the first line of standard input instead of generating one."


def _stdin_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InputError(
            "no password on standard input", field="password", hint="or leave out --password-stdin"
        )
    return line


def _sessions(n: int) -> str:
    return f"{n} open session{'' if n == 1 else 's'} ended"


@click.group()
def users() -> None:
    """People who sign in to the dashboard, each with a role and studies; every action is audited under them."""


@users.command("add")
@click.argument("username")
@click.option("--role", "-r", type=click.Choice(USER_ROLES), required=True)
@click.option("--study", "-s", "studies", multiple=True, help="A study the user may see (repeatable).")
@click.option("--all-studies", is_flag=True, help="Every study (admins only).")
@click.option("--email", "-e", help="Their address (how an auth proxy's identity is matched).")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
@click.option(
    "--no-password", is_flag=True, help="No password: the user signs in only through the auth proxy (OIDC)."
)
def add(
    username: str,
    role: str,
    studies: tuple[str, ...],
    all_studies: bool,
    email: str | None,
    password_stdin: bool,
    no_password: bool,
) -> None:
    """Create a user; a generated password is printed once, alone on the last line."""
    if password_stdin and no_password:
        raise click.UsageError("--password-stdin and --no-password exclude each other")
    password = _stdin_password() if password_stdin else None
    with connect(autocommit=True) as conn:
        user, generated = add_user(
            conn,
            username=username,
            role=role,
            studies=list(studies),
            all_studies=all_studies,
            email=email,
            password=password,
            with_password=not no_password,
            policy=PasswordPolicy.from_settings(get_settings()),
        )
    what = f"user {user.username} ({user.role}, studies: {user.study_scope.replace(',', ', ')})"
    if generated is None:
        say(f"{what} created" + ("; signs in through the auth proxy only" if no_password else ""))
        return
    say(f"{what} created; the password is shown only now, hand it over safely:")
    click.echo(generated)


def _row(user: User, now: datetime) -> tuple[object, ...]:
    return (
        user.username,
        user.email,
        user.role,
        user.study_scope,
        user.status(now),
        "yes" if user.has_password else "no (proxy only)",
        f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else None,
        f"{user.created_at:%Y-%m-%d}",
    )


@users.command("list")
def list_command() -> None:
    """List users with their role, studies and status (never a password)."""
    with connect(autocommit=True) as conn:
        rows = list_users(conn)
    now = datetime.now(UTC)
    print_table(
        None,
        ["user", "email", "role", "studies", "status", "password", "last sign-in (UTC)", "created"],
        [_row(u, now) for u in rows],
    )


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Refuse the user's sign-ins from now on and end their open sessions."""
    with connect(autocommit=True) as conn:
        user, ended = disable_user(conn, username)
    say(f"user {user.username} disabled; {_sessions(ended)}")


@users.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Allow a disabled or locked-out user to sign in again."""
    with connect(autocommit=True) as conn:
        user = enable_user(conn, username)
    say(f"user {user.username} enabled")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
def reset_password_command(username: str, password_stdin: bool) -> None:
    """Set a new password (printed once when generated), lift a lock-out and end open sessions."""
    password = _stdin_password() if password_stdin else None
    with connect(autocommit=True) as conn:
        user, generated, ended = reset_password(
            conn, username, password=password, policy=PasswordPolicy.from_settings(get_settings())
        )
    if generated is None:
        say(f"password of {user.username} set; {_sessions(ended)}")
        return
    say(f"password of {user.username} reset; {_sessions(ended)}; the new password is shown only now:")
    click.echo(generated)
