"""`fitpipe token create|list|revoke`: API bearer tokens."""

from __future__ import annotations

import click

from fitpipe.cli.output import print_table, say
from fitpipe.db import connect
from fitpipe.tokens import ROLES, create_token, expiry, list_tokens, revoke_token

__all__ = ["token"]


@click.group()
def token() -> None:
    """API tokens: each sees only its studies; only a hash is stored."""


@token.command("create")
@click.option("--study", "-s", "studies", multiple=True, help="A study the token may see (repeatable).")
@click.option("--all-studies", is_flag=True, help="Every study (admin and service tokens only).")
# signin: the dashboard's token in proxy mode (docs/kubernetes.md); it names no study
@click.option("--role", "-r", type=click.Choice(ROLES), required=True)
@click.option("--name", "-n", default="", help="Who holds it (for the token list and the audit log).")
@click.option(
    "--expires-days", type=click.IntRange(min=1), help="Expire after this many days (default: never)."
)
def create(
    studies: tuple[str, ...], all_studies: bool, role: str, name: str, expires_days: int | None
) -> None:
    """Create a token and print it once, alone on the last line."""
    with connect(autocommit=True) as conn:
        token_id, text = create_token(
            conn,
            name=name or f"{role} token",
            role=role,
            studies=list(studies),
            all_studies=all_studies,
            expires_in=expiry(expires_days),
        )
    scope = (
        "starts sessions for the people an auth proxy vouches for, nothing else"
        if role == "signin"
        else f"studies: {'all' if all_studies else ', '.join(studies)}"
    )
    say(f"token {token_id} ({role}, {scope}); it is shown only now, store it safely:")
    click.echo(text)


@token.command("list")
def list_command() -> None:
    """List tokens (never their text)."""
    with connect(autocommit=True) as conn:
        rows = list_tokens(conn)
    print_table(None, ["id", "name", "role", "studies", "created", "expires", "revoked", "last used"], rows)


@token.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token by id; it is refused from now on."""
    with connect(autocommit=True) as conn:
        revoke_token(conn, token_id)
    say(f"token {token_id} revoked")
