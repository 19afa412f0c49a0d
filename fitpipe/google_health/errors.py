"""Errors of the Google Health API source; the sync turns them into participant states, the edges into messages.

    FitpipeError (fitpipe.errors)
    └── GoogleHealthError
        ├── ApiError               the API answered with an error (status, reason, URL path)
        │   ├── RetriesExhausted   429/503/504 or network errors kept coming: defer to the next run
        │   └── EndpointGone       410: a retired Fitbit Web API endpoint was called
        ├── ReconsentRequired      no usable grant (revoked, invalid_grant): the participant must consent again
        ├── TokenRefreshFailed     the access token could not be refreshed for another reason
        └── ConsentError           the OAuth callback could not complete (bad state, denied, no refresh token)

Messages never hold tokens, codes or secrets: they name the participant, the endpoint path and the reason.
"""

from __future__ import annotations

from fitpipe.errors import FitpipeError

__all__ = [
    "GoogleHealthError",
    "ApiError",
    "RetriesExhausted",
    "EndpointGone",
    "ReconsentRequired",
    "TokenRefreshFailed",
    "ConsentError",
]


class GoogleHealthError(FitpipeError):
    pass


class ApiError(GoogleHealthError):
    def __init__(self, message: str, *, status: int, reason: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason


class RetriesExhausted(ApiError):
    pass


class EndpointGone(ApiError):
    pass


class ReconsentRequired(GoogleHealthError):
    pass


class TokenRefreshFailed(GoogleHealthError):
    pass


class ConsentError(GoogleHealthError):
    pass
