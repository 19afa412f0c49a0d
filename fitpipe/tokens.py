"""API tokens: created once (the text is shown once, only its hash is stored), scoped to studies, expiring, revocable.

`Principal` is who calls the API: an API token, or a signed-in person's session (fitpipe/sessions.py), in
which case `user_id` names the person and every audit row carries it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from fitpipe.errors import ConfigError, NotFoundError
from fitpipe.participants import ensure_study

__all__ = ["Principal", "create_token", "authenticate", "revoke_token", "hash_token", "ROLES", "TOKEN_PREFIX"]

ROLES = ("admin", "coordinator", "analyst", "service", "signin")
TOKEN_PREFIX = "fp_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id (None for a person's session), its role, the studies it may see
    (None: all) and, for a signed-in person, their user and session ids."""

    token_id: int | None
    name: str
    role: str
    study_ids: frozenset[int] | None
    user_id: int | None = None
    session_id: int | None = None

    @property
    def can_contact(self) -> bool:
        return self.role in ("admin", "coordinator", "service")

    @property
    def sees_emails(self) -> bool:
        return self.role in ("admin", "coordinator", "service")

    @property
    def reads_data(self) -> bool:
        """False only for a `signin` token, which may start sessions for people and do nothing else."""
        return self.role != "signin"

    def sees_study(self, study_id: int) -> bool:
        return self.study_ids is None or study_id in self.study_ids


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_token(
    conn: psycopg.Connection,
    *,
    name: str,
    role: str,
    studies: list[str],
    all_studies: bool = False,
    expires_in: timedelta | None = None,
) -> tuple[int, str]:
    """Create a token; returns (id, token text). The text is not stored anywhere."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}", hint="use one of: " + ", ".join(ROLES))
    if role == "signin":
        if studies or all_studies:
            raise ConfigError(
                "a signin token sees no study: it only starts sessions for people, who bring their own",
                hint="leave out --study and --all-studies",
            )
    elif all_studies and role not in ("admin", "service"):
        raise ConfigError(
            "only admin and service tokens can see all studies", hint="name the studies with --study"
        )
    elif not all_studies and not studies:
        raise ConfigError(
            "a token must name at least one study", hint="pass --study S (repeatable) or --all-studies"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with conn.transaction():
        row = conn.execute(
            """INSERT INTO api_tokens (token_hash, name, role, all_studies, expires_at)
               VALUES (%s, %s, %s, %s, now() + %s) RETURNING id""",
            (hash_token(token), name, role, all_studies, expires_in),
        ).fetchone()
        assert row is not None
        token_id = int(row[0])
        for study in studies:
            study_id = ensure_study(conn, study)
            conn.execute(
                "INSERT INTO api_token_studies (token_id, study_id) VALUES (%s, %s)", (token_id, study_id)
            )
    return token_id, token


def authenticate(conn: psycopg.Connection, token: str) -> Principal | None:
    """The principal for a token, or None when it is unknown, expired or revoked."""
    row = conn.execute(
        """
        SELECT t.id, t.name, t.role, t.all_studies, array_remove(array_agg(s.study_id), NULL), t.last_used_at < now() - interval '1 minute'
        FROM api_tokens t LEFT JOIN api_token_studies s ON s.token_id = t.id
        WHERE t.token_hash = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
        GROUP BY t.id
        """,
        (hash_token(token),),
    ).fetchone()
    if row is None:
        return None
    token_id, name, role, all_studies, study_ids, stale = row
    if stale is None or stale:
        conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s", (token_id,))
    return Principal(int(token_id), name, role, None if all_studies else frozenset(int(s) for s in study_ids))


def revoke_token(conn: psycopg.Connection, token_id: int) -> None:
    row = conn.execute(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s RETURNING id",
        (token_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no token with id {token_id}", hint="see `fitpipe token list`")


def list_tokens(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        """SELECT t.id, t.name, t.role, CASE WHEN t.all_studies THEN 'all' ELSE string_agg(st.name, ',' ORDER BY st.name) END,
                  t.created_at, t.expires_at, t.revoked_at, t.last_used_at
           FROM api_tokens t LEFT JOIN api_token_studies s ON s.token_id = t.id LEFT JOIN studies st ON st.id = s.study_id
           GROUP BY t.id ORDER BY t.id"""
    ).fetchall()


def expiry(days: int | None) -> timedelta | None:
    return timedelta(days=days) if days else None
