"""Participants' Google grants in the database: consent links (state + PKCE), storing a grant after the
callback, and access tokens shared by every process, refreshed under a row lock.

Two syncs that find the access token expired at once must not both spend the refresh token (single-use
at Fitbit, and maybe again at Google): the refresh holds `SELECT … FOR UPDATE` on the grant while it
calls the token endpoint, writes the new tokens with `WHERE version = <read>` (compare-and-swap as a
second guard) and commits before the access token is handed out. The one waiting re-reads and finds a
fresh token. `invalid_grant` revokes the grant and flags the participant `needs_reconsent`, committed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from fitpipe.errors import ConflictError
from fitpipe.google_health.client import Identity
from fitpipe.google_health.errors import ConsentError, ReconsentRequired, TokenRefreshFailed
from fitpipe.google_health.oauth import OAuthClient, TokenResponse, new_state, pkce_pair
from fitpipe.google_health.tokens import TokenCipher
from fitpipe.participants import Participant

__all__ = [
    "PROVIDER",
    "Grant",
    "ConsentLink",
    "PendingConsent",
    "create_consent_link",
    "open_consent",
    "store_grant",
    "read_grant",
    "revoke_grant",
    "set_source_status",
    "TokenSource",
    "StaticTokens",
]

log = logging.getLogger(__name__)

PROVIDER = "google_health"
REFRESH_MARGIN = timedelta(minutes=5)
"""An access token with less life than this is refreshed first (a window's pages must not straddle expiry)."""


def _context(participant_id: int, column: str) -> str:
    return f"oauth_grants/{PROVIDER}/{participant_id}/{column}"


def _state_hash(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


@dataclass(frozen=True)
class Grant:
    participant_id: int
    health_user_id: str
    scopes: tuple[str, ...]
    version: int
    revoked_at: datetime | None


@dataclass(frozen=True)
class ConsentLink:
    url: str
    expires_at: datetime


def create_consent_link(
    conn: psycopg.Connection,
    cipher: TokenCipher,
    oauth: OAuthClient,
    participant: Participant,
    *,
    redirect_uri: str,
    lifetime: timedelta,
    token_id: int | None = None,
) -> ConsentLink:
    state, (verifier, challenge) = new_state(), pkce_pair()
    state_hash = _state_hash(state)
    row = conn.execute(
        """INSERT INTO oauth_states (state_hash, participant_id, provider, code_verifier, redirect_uri, token_id, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, now() + %s) RETURNING expires_at""",
        (
            state_hash,
            participant.id,
            PROVIDER,
            cipher.encrypt(verifier, f"oauth_states/{state_hash.hex()}"),
            redirect_uri,
            token_id,
            lifetime,
        ),
    ).fetchone()
    assert row is not None
    return ConsentLink(
        oauth.authorization_url(state=state, code_challenge=challenge, redirect_uri=redirect_uri), row[0]
    )


@dataclass(frozen=True)
class PendingConsent:
    state_hash: bytes
    participant_id: int
    code_verifier: str
    redirect_uri: str


def open_consent(conn: psycopg.Connection, cipher: TokenCipher, state: str) -> PendingConsent:
    """The consent a callback's state belongs to; ConsentError when unknown, used or expired."""
    state_hash = _state_hash(state)
    row = conn.execute(
        """SELECT participant_id, code_verifier, redirect_uri, used_at IS NOT NULL, expires_at < now()
           FROM oauth_states WHERE state_hash = %s AND provider = %s""",
        (state_hash, PROVIDER),
    ).fetchone()
    if row is None:
        raise ConsentError("this consent link is not known", hint="ask the study team for a new link")
    participant_id, verifier, redirect_uri, used, expired = row
    if used:
        raise ConsentError(
            "this consent link was used already", hint="ask the study team for a new link if needed"
        )
    if expired:
        raise ConsentError("this consent link has expired", hint="ask the study team for a new link")
    return PendingConsent(
        state_hash,
        int(participant_id),
        cipher.decrypt(verifier, f"oauth_states/{state_hash.hex()}"),
        redirect_uri,
    )


def store_grant(
    conn: psycopg.Connection,
    cipher: TokenCipher,
    participant_id: int,
    tokens: TokenResponse,
    identity: Identity,
    *,
    consent: PendingConsent | None = None,
) -> Grant:
    """Store (or replace, on re-consent) a participant's grant, in one transaction with using up the state.
    The update repeats the parameters instead of reading EXCLUDED: the API's role may not read token columns."""
    if tokens.refresh_token is None:
        raise ConsentError("the grant has no refresh token", hint="consent again")
    with conn.transaction():
        other = conn.execute(
            "SELECT participant_id FROM oauth_grants WHERE provider = %s AND health_user_id = %s AND participant_id <> %s",
            (PROVIDER, identity.health_user_id, participant_id),
        ).fetchone()
        if other is not None:
            raise ConflictError(
                "this Google account is already linked to another participant",
                hint="each participant must consent with their own Google account; revoke the other grant first",
            )
        if consent is not None:
            conn.execute(
                "UPDATE oauth_states SET used_at = now() WHERE state_hash = %s AND used_at IS NULL",
                (consent.state_hash,),
            )
        row = conn.execute(
            """
            INSERT INTO oauth_grants AS g (participant_id, provider, health_user_id, legacy_user_id, scopes, refresh_token,
                                           access_token, access_expires_at)
            VALUES (%(p)s, %(provider)s, %(hid)s, %(legacy)s, %(scopes)s, %(refresh)s, %(access)s, now() + %(ttl)s)
            ON CONFLICT (participant_id, provider) DO UPDATE SET
                health_user_id = %(hid)s, legacy_user_id = %(legacy)s, scopes = %(scopes)s, refresh_token = %(refresh)s,
                access_token = %(access)s, access_expires_at = now() + %(ttl)s, version = g.version + 1,
                updated_at = now(), revoked_at = NULL, revoke_reason = NULL
            RETURNING version
            """,
            {
                "p": participant_id,
                "provider": PROVIDER,
                "hid": identity.health_user_id,
                "legacy": identity.legacy_user_id,
                "scopes": list(tokens.scopes),
                "refresh": cipher.encrypt(
                    tokens.refresh_token.get_secret_value(), _context(participant_id, "refresh_token")
                ),
                "access": cipher.encrypt(
                    tokens.access_token.get_secret_value(), _context(participant_id, "access_token")
                ),
                "ttl": timedelta(seconds=tokens.expires_in),
            },
        ).fetchone()
        assert row is not None
        # a new consent clears needs_reconsent/error; a source a coordinator disabled stays disabled
        conn.execute(
            """INSERT INTO participant_sources AS ps (participant_id, source, status) VALUES (%s, %s, 'configured')
               ON CONFLICT (participant_id, source) DO UPDATE SET
                   status = CASE WHEN ps.status = 'disabled' THEN ps.status ELSE 'configured' END,
                   last_error = NULL""",
            (participant_id, PROVIDER),
        )
    return Grant(participant_id, identity.health_user_id, tokens.scopes, int(row[0]), None)


def read_grant(conn: psycopg.Connection, participant_id: int) -> Grant | None:
    row = conn.execute(
        "SELECT health_user_id, scopes, version, revoked_at FROM oauth_grants WHERE participant_id = %s AND provider = %s",
        (participant_id, PROVIDER),
    ).fetchone()
    return None if row is None else Grant(participant_id, row[0], tuple(row[1]), int(row[2]), row[3])


def set_source_status(
    conn: psycopg.Connection, participant_id: int, error: str | None, *, status: str | None = None
) -> None:
    """Record a sync attempt: active on success, error (or `status`) with the message otherwise."""
    conn.execute(
        """
        INSERT INTO participant_sources AS ps (participant_id, source, status, last_attempt_at, last_success_at, last_error)
        VALUES (%(p)s, %(s)s, %(status)s, now(), CASE WHEN %(e)s::text IS NULL THEN now() END, %(e)s)
        ON CONFLICT (participant_id, source) DO UPDATE SET
            status = CASE WHEN ps.status = 'disabled' THEN ps.status
                          WHEN ps.status = 'needs_reconsent' AND %(status)s <> 'needs_reconsent' AND %(e)s::text IS NOT NULL
                          THEN ps.status ELSE %(status)s END,
            last_attempt_at = now(),
            last_success_at = CASE WHEN %(e)s::text IS NULL THEN now() ELSE ps.last_success_at END,
            last_error = %(e)s
        """,
        {
            "p": participant_id,
            "s": PROVIDER,
            "e": error,
            "status": status or ("active" if error is None else "error"),
        },
    )


def revoke_grant(conn: psycopg.Connection, participant_id: int, reason: str) -> None:
    """The grant stopped working: the participant needs to consent again (committed by the caller's transaction)."""
    conn.execute(
        """UPDATE oauth_grants SET revoked_at = coalesce(revoked_at, now()), revoke_reason = %s, access_token = NULL,
                                   version = version + 1, updated_at = now()
           WHERE participant_id = %s AND provider = %s""",
        (reason, participant_id, PROVIDER),
    )
    set_source_status(conn, participant_id, reason, status="needs_reconsent")


class StaticTokens:
    """An access token just obtained (the callback's identity call), without refresh."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_rejection(self, rejected: str) -> str:
        raise ConsentError(
            "Google refused the access token it had just issued", hint="open the consent link again"
        )


class TokenSource:
    """A participant's access token for the client: read from the database, refreshed when due (see module doc)."""

    def __init__(
        self, conn: psycopg.Connection, cipher: TokenCipher, oauth: OAuthClient, participant_id: int
    ) -> None:
        self.conn = conn
        self.cipher = cipher
        self.oauth = oauth
        self.participant_id = participant_id
        self.refresh_failures = 0
        """Refreshes that failed (invalid_grant or the token endpoint unavailable): the run's token metric."""
        self._token: str | None = None
        self._expires: datetime | None = None

    def _fresh(self, expires: datetime | None) -> bool:
        return expires is not None and expires - datetime.now(UTC) > REFRESH_MARGIN

    def access_token(self) -> str:
        if self._token is not None and self._fresh(self._expires):
            return self._token
        row = self.conn.execute(
            "SELECT access_token, access_expires_at, revoked_at FROM oauth_grants WHERE participant_id = %s AND provider = %s",
            (self.participant_id, PROVIDER),
        ).fetchone()
        if row is None or row[2] is not None:
            raise ReconsentRequired(
                "no usable Google grant (never consented, or revoked)",
                hint="send the participant a consent link",
            )
        if row[0] is not None and self._fresh(row[1]):
            self._token, self._expires = (
                self.cipher.decrypt(row[0], _context(self.participant_id, "access_token")),
                row[1],
            )
            return self._token
        return self._refresh(rejected=None)

    def refresh_after_rejection(self, rejected: str) -> str:
        return self._refresh(rejected=rejected)

    def _refresh(self, rejected: str | None) -> str:
        failure: Exception | None = None
        token: str | None = None
        with self.conn.transaction():
            row = self.conn.execute(
                """SELECT refresh_token, access_token, access_expires_at, version, revoked_at
                   FROM oauth_grants WHERE participant_id = %s AND provider = %s FOR UPDATE""",
                (self.participant_id, PROVIDER),
            ).fetchone()
            if row is None or row[4] is not None:
                raise ReconsentRequired(
                    "no usable Google grant (never consented, or revoked)",
                    hint="send the participant a consent link",
                )
            refresh_blob, access_blob, expires, version, _ = row
            current = (
                self.cipher.decrypt(access_blob, _context(self.participant_id, "access_token"))
                if access_blob
                else None
            )
            if current is not None and current != rejected and self._fresh(expires):
                token = current  # another process refreshed while we waited for the lock
                self._expires = expires
            else:
                try:
                    answer = self.oauth.refresh(
                        self.cipher.decrypt(refresh_blob, _context(self.participant_id, "refresh_token"))
                    )
                except ReconsentRequired as exc:
                    self.refresh_failures += 1
                    failure = exc
                    revoke_grant(self.conn, self.participant_id, exc.message)
                except TokenRefreshFailed as exc:
                    self.refresh_failures += 1
                    failure = exc
                else:
                    token = answer.access_token.get_secret_value()
                    new_refresh = answer.refresh_token.get_secret_value() if answer.refresh_token else None
                    updated = self.conn.execute(
                        """UPDATE oauth_grants SET access_token = %s, access_expires_at = now() + %s,
                                  refresh_token = coalesce(%s, refresh_token), version = version + 1,
                                  refreshed_at = now(), updated_at = now()
                           WHERE participant_id = %s AND provider = %s AND version = %s
                           RETURNING access_expires_at""",
                        (
                            self.cipher.encrypt(token, _context(self.participant_id, "access_token")),
                            timedelta(seconds=answer.expires_in),
                            self.cipher.encrypt(new_refresh, _context(self.participant_id, "refresh_token"))
                            if new_refresh
                            else None,
                            self.participant_id,
                            PROVIDER,
                            version,
                        ),
                    ).fetchone()
                    if (
                        updated is None
                    ):  # impossible under the row lock; refuse rather than lose a refresh token
                        raise ConflictError("the grant changed during a refresh", hint="run the sync again")
                    self._expires = updated[0]
                    log.info(
                        "participant %d: access token refreshed%s",
                        self.participant_id,
                        " (new refresh token stored)" if new_refresh else "",
                    )
        # committed: the new refresh token is stored before the access token is used
        if failure is not None:
            raise failure
        assert token is not None
        self._token = token
        return token
