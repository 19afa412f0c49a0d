"""People who sign in: accounts an admin creates, each with a role and studies (as API tokens have), a
scrypt password hash (or none: proxy sign-in only), and the lock-out state of fitpipe/sessions.py.

Disabling an account or resetting its password ends its open sessions at once. Passwords are never
stored, logged or returned, except a generated one, returned once to the caller to hand over.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from fitpipe.errors import ConfigError, ConflictError, InputError, NotFoundError
from fitpipe.passwords import DEFAULT_COST, ScryptCost, generate_password, hash_password
from fitpipe.settings import Settings

__all__ = [
    "USER_ROLES",
    "User",
    "PasswordPolicy",
    "normalize_username",
    "check_password",
    "add_user",
    "get_user",
    "list_users",
    "disable_user",
    "enable_user",
    "reset_password",
    "end_user_sessions",
]

USER_ROLES = ("admin", "coordinator", "analyst")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,127}$")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str | None
    role: str
    all_studies: bool
    studies: list[str]
    has_password: bool
    created_at: datetime
    disabled_at: datetime | None
    locked_until: datetime | None
    failed_attempts: int
    last_sign_in_at: datetime | None

    def status(self, now: datetime) -> str:
        """active, disabled, or locked until <time> (UTC)."""
        if self.disabled_at is not None:
            return "disabled"
        if self.locked_until is not None and self.locked_until > now:
            return f"locked until {self.locked_until:%Y-%m-%d %H:%M} UTC"
        return "active"

    @property
    def study_scope(self) -> str:
        return "all" if self.all_studies else ",".join(self.studies)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    cost: ScryptCost = DEFAULT_COST

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordPolicy:
        return cls(
            min_length=settings.fitpipe_password_min_length,
            cost=ScryptCost(n=settings.fitpipe_password_scrypt_n, r=DEFAULT_COST.r, p=DEFAULT_COST.p),
        )


_SELECT = """
    SELECT u.id, u.username, u.email, u.role, u.all_studies,
           coalesce(array_agg(s.name ORDER BY s.name) FILTER (WHERE s.name IS NOT NULL), '{}') AS studies,
           u.password_hash IS NOT NULL AS has_password, u.created_at, u.disabled_at, u.locked_until,
           u.failed_attempts, u.last_sign_in_at
    FROM users u LEFT JOIN user_studies us ON us.user_id = u.id LEFT JOIN studies s ON s.id = us.study_id
"""


def normalize_username(username: str) -> str:
    """Lower case, surrounding blanks removed; InputError when it holds anything but letters, digits, . _ @ + -."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InputError(
            f"invalid user name {username!r}",
            field="username",
            hint="use 1-128 lower case letters, digits and . _ @ + - (starting with a letter or digit)",
        )
    return name


def check_password(password: str, username: str, policy: PasswordPolicy) -> None:
    if len(password) < policy.min_length:
        raise InputError(
            f"the password is too short ({len(password)} characters, at least {policy.min_length})",
            field="password",
            hint="leave the password out to have one generated",
        )
    if password.strip().lower() == username:
        raise InputError("the password must not be the user name", field="password")


def _study_ids(conn: psycopg.Connection, studies: Sequence[str]) -> list[int]:
    ids = []
    for study in studies:
        row = conn.execute("SELECT id FROM studies WHERE name = %s", (study,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM studies ORDER BY name").fetchall()]
            raise NotFoundError(
                f"no study {study!r}"
                + (f" (known: {', '.join(known)})" if known else " (there is none yet)"),
                hint="check the spelling; a study exists once it has participants (`fitpipe participants add`)",
            )
        ids.append(int(row[0]))
    return ids


def get_user(conn: psycopg.Connection, username: str) -> User:
    name = normalize_username(username)
    with conn.cursor(row_factory=class_row(User)) as cur:
        user = cur.execute(_SELECT + " WHERE u.username = %s GROUP BY u.id", (name,)).fetchone()
    if user is None:
        raise NotFoundError(f"no user {name!r}", hint="see `fitpipe users list`")
    return user


def list_users(conn: psycopg.Connection) -> list[User]:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(_SELECT + " GROUP BY u.id ORDER BY u.username").fetchall()


def add_user(
    conn: psycopg.Connection,
    *,
    username: str,
    role: str,
    studies: Sequence[str],
    all_studies: bool = False,
    email: str | None = None,
    password: str | None = None,
    with_password: bool = True,
    policy: PasswordPolicy | None = None,
) -> tuple[User, str | None]:
    """Create an account; returns it and the generated password (None when one was given, or with
    `with_password=False`: an account that signs in only through the auth proxy)."""
    policy = policy or PasswordPolicy()
    name = normalize_username(username)
    if role not in USER_ROLES:
        raise ConfigError(f"unknown role {role!r}", hint="use one of: " + ", ".join(USER_ROLES))
    if all_studies and role != "admin":
        raise ConfigError("only admins can see all studies", hint="name the studies with --study")
    if not all_studies and not studies:
        raise ConfigError("a user must have at least one study", hint="pass --study S (repeatable)")
    if email is not None:
        email = email.strip()
        if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
            raise InputError(f"invalid email address {email!r}", field="email")
    generated = None
    if with_password:
        if password is None:
            password = generated = generate_password()
        check_password(password, name, policy)
    password_hash = hash_password(password, policy.cost) if with_password and password else None
    with conn.transaction():
        study_ids = _study_ids(conn, studies)
        taken = conn.execute(
            "SELECT username FROM users WHERE username = %s OR (%s::text IS NOT NULL AND lower(email) = lower(%s))",
            (name, email, email),
        ).fetchone()
        if taken is not None:
            what = f"user {name!r}" if taken[0] == name else f"email {email!r} (user {taken[0]!r})"
            raise ConflictError(f"{what} exists already", hint="see `fitpipe users list`")
        row = conn.execute(
            """INSERT INTO users (username, email, role, all_studies, password_hash, password_set_at)
               VALUES (%s, %s, %s, %s, %s, CASE WHEN %s::text IS NULL THEN NULL ELSE now() END) RETURNING id""",
            (name, email, role, all_studies, password_hash, password_hash),
        ).fetchone()
        assert row is not None
        for study_id in study_ids:
            conn.execute("INSERT INTO user_studies (user_id, study_id) VALUES (%s, %s)", (row[0], study_id))
    return get_user(conn, name), generated


def end_user_sessions(conn: psycopg.Connection, user_id: int, reason: str) -> int:
    """End every open session of a user; returns how many."""
    return conn.execute(
        "UPDATE user_sessions SET ended_at = now(), end_reason = %s WHERE user_id = %s AND ended_at IS NULL",
        (reason, user_id),
    ).rowcount


def disable_user(conn: psycopg.Connection, username: str) -> tuple[User, int]:
    """Refuse every sign-in from now on and end open sessions; returns the user and how many ended."""
    user = get_user(conn, username)
    with conn.transaction():
        conn.execute("UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = %s", (user.id,))
        ended = end_user_sessions(conn, user.id, "disabled")
    return get_user(conn, user.username), ended


def enable_user(conn: psycopg.Connection, username: str) -> User:
    """Allow sign-in again: clears a disabled state and a lock-out."""
    user = get_user(conn, username)
    conn.execute(
        "UPDATE users SET disabled_at = NULL, locked_until = NULL, failed_attempts = 0 WHERE id = %s",
        (user.id,),
    )
    return get_user(conn, user.username)


def reset_password(
    conn: psycopg.Connection,
    username: str,
    *,
    password: str | None = None,
    policy: PasswordPolicy | None = None,
) -> tuple[User, str | None, int]:
    """Set a new password (generated when none is given), clear a lock-out and end open sessions.
    Returns the user, the generated password (or None) and how many sessions ended."""
    policy = policy or PasswordPolicy()
    user = get_user(conn, username)
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password(password, user.username, policy)
    password_hash = hash_password(password, policy.cost)
    with conn.transaction():
        conn.execute(
            """UPDATE users SET password_hash = %s, password_set_at = now(), locked_until = NULL,
                                failed_attempts = 0 WHERE id = %s""",
            (password_hash, user.id),
        )
        ended = end_user_sessions(conn, user.id, "password_reset")
    return get_user(conn, user.username), generated, ended
