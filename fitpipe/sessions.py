"""Sign-in sessions: a user name and password (or an auth proxy's word) exchanged for a short-lived bearer
token that acts as that person, with their role and studies as they are at each request.

Rules:
- Only the token's SHA-256 is stored. A session is refused after `expires_at`, after `idle_timeout` without
  a request, once ended (sign-out, the user disabled, a password reset), or when the user is disabled.
- `max_failures` wrong passwords in a row lock the account for `lockout`; while locked, no password is even
  checked. A success resets the count. The account row is locked (FOR UPDATE) while a password is checked,
  so parallel guesses are counted one after the other.
- An unknown user name costs the same scrypt work as a wrong password and gets the same answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from fitpipe.errors import AccountDisabledError, AccountLockedError, InputError, SignInError
from fitpipe.passwords import verify_password
from fitpipe.settings import Settings
from fitpipe.tokens import Principal, hash_token
from fitpipe.users import PasswordPolicy, User, get_user, normalize_username

__all__ = [
    "SESSION_PREFIX",
    "SessionPolicy",
    "NewSession",
    "sign_in",
    "start_proxy_session",
    "authenticate_session",
    "end_session",
    "is_session_token",
]

SESSION_PREFIX = "fps_"
WRONG = "wrong user name or password"


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta = timedelta(hours=12)
    idle_timeout: timedelta = timedelta(minutes=30)
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    passwords: PasswordPolicy = PasswordPolicy()

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            lifetime=settings.session_lifetime,
            idle_timeout=settings.session_idle_timeout,
            max_failures=settings.fitpipe_signin_max_failures,
            lockout=settings.signin_lockout,
            passwords=PasswordPolicy.from_settings(settings),
        )


@dataclass(frozen=True)
class NewSession:
    token: str
    session_id: int
    user: User
    expires_at: datetime
    idle_timeout: timedelta


def is_session_token(token: str) -> bool:
    return token.startswith(SESSION_PREFIX)


def _locked(until: datetime, user_id: int) -> AccountLockedError:
    return AccountLockedError(
        f"too many wrong passwords: the account is locked until {until:%H:%M} UTC",
        until=until,
        user_id=user_id,
        hint="wait, or ask an admin to unlock it (`fitpipe users enable`)",
    )


def _open(
    conn: psycopg.Connection, user_id: int, via: str, policy: SessionPolicy
) -> tuple[str, int, datetime]:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    row = conn.execute(
        """INSERT INTO user_sessions (token_hash, user_id, via, expires_at, idle_timeout)
           VALUES (%s, %s, %s, now() + %s, %s) RETURNING id, expires_at""",
        (hash_token(token), user_id, via, policy.lifetime, policy.idle_timeout),
    ).fetchone()
    assert row is not None
    return token, int(row[0]), row[1]


def sign_in(conn: psycopg.Connection, username: str, password: str, policy: SessionPolicy) -> NewSession:
    """A new session for the user, or SignInError (AccountLockedError, AccountDisabledError) whose
    `reason` and `user_id` say why for the audit log."""
    try:
        name = normalize_username(username)
    except InputError:
        verify_password(None, password, policy.passwords.cost)
        raise SignInError(WRONG, reason="unknown_user") from None
    refusal: SignInError | None = None
    with conn.transaction():
        row = conn.execute(
            """SELECT id, password_hash, disabled_at IS NOT NULL, locked_until > now(), locked_until
               FROM users WHERE username = %s FOR UPDATE""",
            (name,),
        ).fetchone()
        if row is None:
            verify_password(None, password, policy.passwords.cost)
            raise SignInError(WRONG, reason="unknown_user")
        user_id, stored, disabled, locked, locked_until = row
        if locked:
            raise _locked(locked_until, user_id)
        if verify_password(stored, password, policy.passwords.cost):
            if disabled:
                raise AccountDisabledError(
                    "this account is disabled", user_id=user_id, hint="ask an admin (`fitpipe users enable`)"
                )
            conn.execute(
                "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_sign_in_at = now() WHERE id = %s",
                (user_id,),
            )
            token, session_id, expires_at = _open(conn, user_id, "password", policy)
        elif disabled:
            raise SignInError(WRONG, reason="disabled", user_id=user_id)
        else:
            # the count survives the refusal: this transaction commits, the error is raised after it
            (failures,) = conn.execute(
                "UPDATE users SET failed_attempts = failed_attempts + 1 WHERE id = %s RETURNING failed_attempts",
                (user_id,),
            ).fetchone() or (0,)
            if failures >= policy.max_failures:
                until_row = conn.execute(
                    """UPDATE users SET failed_attempts = 0, locked_until = now() + %s WHERE id = %s
                       RETURNING locked_until""",
                    (policy.lockout, user_id),
                ).fetchone()
                assert until_row is not None
                refusal = _locked(until_row[0], user_id)
            else:
                refusal = SignInError(WRONG, reason="wrong_password", user_id=user_id)
    if refusal is not None:
        raise refusal
    return NewSession(token, session_id, get_user(conn, name), expires_at, policy.idle_timeout)


def start_proxy_session(
    conn: psycopg.Connection, identity: str, match: str, policy: SessionPolicy
) -> NewSession:
    """A session for the user an auth proxy vouched for, found by email or user name. The proxy's identity
    provider did the authentication (and its own lock-out); fitpipe decides what the person may do."""
    column = {"email": "lower(email)", "username": "username"}[match]
    row = conn.execute(
        f"SELECT id, username, disabled_at IS NOT NULL FROM users WHERE {column} = %s",  # column: fixed set
        (identity.strip().lower(),),
    ).fetchone()
    if row is None:
        raise SignInError(
            f"no fitpipe account for {identity!r}",
            reason="unknown_user",
            hint="an admin creates one: `fitpipe users add NAME --email ADDRESS --role ROLE --study S --no-password`",
        )
    user_id, username, disabled = row
    if disabled:
        raise AccountDisabledError(
            f"the account {username!r} is disabled", user_id=user_id, hint="ask an admin"
        )
    with conn.transaction():
        conn.execute("UPDATE users SET last_sign_in_at = now() WHERE id = %s", (user_id,))
        token, session_id, expires_at = _open(conn, user_id, "proxy", policy)
    return NewSession(token, session_id, get_user(conn, username), expires_at, policy.idle_timeout)


def authenticate_session(conn: psycopg.Connection, token: str) -> Principal | None:
    """The person behind a session token (their role and studies as they are now), or None when the
    session is unknown, expired, idle too long, ended, or its user disabled. Each use keeps it alive."""
    row = conn.execute(
        """
        SELECT s.id, u.id, u.username, u.role, u.all_studies, array_remove(array_agg(us.study_id), NULL),
               s.last_seen_at < now() - interval '15 seconds'
        FROM user_sessions s JOIN users u ON u.id = s.user_id LEFT JOIN user_studies us ON us.user_id = u.id
        WHERE s.token_hash = %s AND s.ended_at IS NULL AND s.expires_at > now()
          AND s.last_seen_at + s.idle_timeout > now() AND u.disabled_at IS NULL
        GROUP BY s.id, u.id
        """,
        (hash_token(token),),
    ).fetchone()
    if row is None:
        return None
    session_id, user_id, username, role, all_studies, study_ids, stale = row
    if stale:
        conn.execute("UPDATE user_sessions SET last_seen_at = now() WHERE id = %s", (session_id,))
    return Principal(
        None,
        username,
        role,
        None if all_studies else frozenset(int(s) for s in study_ids),
        user_id=int(user_id),
        session_id=int(session_id),
    )


def end_session(conn: psycopg.Connection, session_id: int, reason: str = "signed_out") -> bool:
    """End one session (sign-out); False when it had ended already."""
    return (
        conn.execute(
            "UPDATE user_sessions SET ended_at = now(), end_reason = %s WHERE id = %s AND ended_at IS NULL",
            (reason, session_id),
        ).rowcount
        == 1
    )
