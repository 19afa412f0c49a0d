"""Google's OAuth 2.0 endpoints: the consent URL (state + PKCE), exchanging the code, refreshing and revoking.

Refresh answers that carry a `refresh_token` mean the old one is spent (Fitbit's were single-use; Google's
do not rotate today): callers must store the new one before using the access token (see grants.py).
`invalid_grant` means the participant revoked access or the grant expired: ReconsentRequired.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import orjson
from pydantic import SecretStr

from fitpipe.google_health.client import ApiStats, error_reason, send_with_retries
from fitpipe.google_health.datatypes import SCOPES
from fitpipe.google_health.errors import (
    ConsentError,
    ReconsentRequired,
    RetriesExhausted,
    TokenRefreshFailed,
)
from fitpipe.google_health.limits import Clock, RetryPolicy, SystemClock
from fitpipe.google_health.settings import GoogleHealthSettings

__all__ = ["OAuthClient", "TokenResponse", "new_state", "pkce_pair"]


def new_state() -> str:
    return secrets.token_urlsafe(32)


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass(frozen=True)
class TokenResponse:
    access_token: SecretStr
    expires_in: int
    refresh_token: SecretStr | None
    scopes: tuple[str, ...]


def _token_response(response: httpx.Response, what: str) -> TokenResponse:
    try:
        body = orjson.loads(response.content)
        access = body["access_token"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise TokenRefreshFailed(f"{what}: the token endpoint's answer has no access_token") from None
    refresh = body.get("refresh_token")
    return TokenResponse(
        access_token=SecretStr(str(access)),
        expires_in=int(body.get("expires_in") or 3600),
        refresh_token=SecretStr(str(refresh)) if refresh else None,
        scopes=tuple(str(body.get("scope") or "").split()),
    )


class OAuthClient:
    def __init__(
        self,
        settings: GoogleHealthSettings,
        *,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        policy: RetryPolicy | None = None,
        stats: ApiStats | None = None,
    ) -> None:
        self.settings = settings
        self.client_id, self._client_secret = settings.client_credentials()
        self.http = http or httpx.Client(timeout=settings.fitpipe_google_timeout_seconds)
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.stats = stats or ApiStats()

    def authorization_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(SCOPES),
            "access_type": "offline",  # a refresh token, for the nightly sync
            "prompt": "consent",  # a refresh token even when the person consented before
            "include_granted_scopes": "true",
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.settings.google_oauth_authorize_url}?{urlencode(query)}"

    def _post(self, form: dict[str, str], what: str) -> httpx.Response:
        request = self.http.build_request(
            "POST",
            self.settings.google_oauth_token_url,
            data=form | {"client_id": self.client_id, "client_secret": self._client_secret},
            headers={"Accept": "application/json"},
        )
        return send_with_retries(
            self.http,
            request,
            what=what,
            policy=self.policy,
            clock=self.clock,
            rng=self.rng,
            stats=self.stats,
        )

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str) -> TokenResponse:
        what = "exchanging the authorization code"
        try:
            response = self._post(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "code_verifier": code_verifier,
                    "redirect_uri": redirect_uri,
                },
                what,
            )
        except RetriesExhausted as exc:
            raise ConsentError(
                f"{what}: Google's token endpoint is unavailable ({exc.message})",
                hint="open the consent link again in a few minutes",
            ) from None
        if response.status_code != 200:
            reason, _ = error_reason(response)
            raise ConsentError(
                f"{what}: the token endpoint answered {response.status_code} {reason}".rstrip(),
                hint="open the consent link again; if it keeps failing, check GOOGLE_CLIENT_ID/SECRET "
                "and the redirect URL registered with the OAuth client",
            )
        tokens = _token_response(response, what)
        if tokens.refresh_token is None:
            raise ConsentError(
                f"{what}: Google returned no refresh token, so nightly syncs are impossible",
                hint="the consent URL must carry access_type=offline and prompt=consent",
            )
        return tokens

    def refresh(self, refresh_token: str) -> TokenResponse:
        what = "refreshing the access token"
        try:
            response = self._post({"grant_type": "refresh_token", "refresh_token": refresh_token}, what)
        except RetriesExhausted as exc:
            raise TokenRefreshFailed(exc.message, hint=exc.hint) from None
        if response.status_code == 200:
            return _token_response(response, what)
        reason, description = error_reason(response)
        if reason == "invalid_grant":
            raise ReconsentRequired(
                f"{what}: invalid_grant ({description or 'revoked or expired'})",
                hint="send the participant a new consent link (GET /api/v1/participants/{id}/connect)",
            )
        raise TokenRefreshFailed(
            f"{what}: the token endpoint answered {response.status_code} {reason}".rstrip(),
            hint="invalid_client means GOOGLE_CLIENT_ID/GOOGLE_CLIENT_SECRET are wrong"
            if reason == "invalid_client"
            else None,
        )

    def revoke(self, token: str) -> bool:
        request = self.http.build_request(
            "POST", self.settings.google_oauth_revoke_url, data={"token": token}
        )
        response = send_with_retries(
            self.http,
            request,
            what="revoking a token",
            policy=self.policy,
            clock=self.clock,
            rng=self.rng,
            stats=self.stats,
        )
        return response.status_code == 200
