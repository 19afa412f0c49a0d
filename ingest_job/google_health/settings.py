"""Settings of the Google Health API source, read from the environment (to be folded into fitpipe.settings).

Google's real endpoints are the defaults; tests and staging point GOOGLE_HEALTH_API_BASE and the
GOOGLE_OAUTH_* URLs elsewhere. Secrets are SecretStr so that printing the object never shows them.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from fitpipe.errors import ConfigError

__all__ = ["GoogleHealthSettings", "get_google_health_settings", "reset_google_health_settings"]


class GoogleHealthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # --- where Google is ---------------------------------------------------------------------------
    google_health_api_base: str = "https://health.googleapis.com"
    google_oauth_authorize_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_oauth_token_url: str = "https://oauth2.googleapis.com/token"
    google_oauth_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    google_oauth_redirect_url: str | None = Field(
        default=None,
        description="The callback URL registered with the OAuth client "
        "(https://<api host>/api/v1/oauth/google-health/callback); default: derived from the request.",
    )

    # --- the OAuth client and the key that encrypts stored tokens --------------------------------------
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    fitpipe_token_key: SecretStr | None = Field(
        default=None,
        description="32 random bytes, URL-safe base64 (several, comma-separated, while rotating: the first encrypts).",
    )

    # --- limits --------------------------------------------------------------------------------------
    fitpipe_google_user_rpm: int = Field(
        default=300, ge=1, description="Requests per minute per participant."
    )
    fitpipe_google_project_rpm: int = Field(
        default=120_000, ge=1, description="Requests per minute for the whole project."
    )
    fitpipe_google_concurrency: int = Field(
        default=8, ge=1, description="Participants synced at the same time."
    )
    fitpipe_google_max_attempts: int = Field(
        default=6, ge=1, description="Tries of one request on 429/503/504."
    )
    fitpipe_google_backoff_base_seconds: float = Field(default=1.0, gt=0)
    fitpipe_google_backoff_cap_seconds: float = Field(default=64.0, gt=0)
    fitpipe_google_max_retry_after_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A Retry-After longer than this defers the participant to the next run.",
    )
    fitpipe_google_timeout_seconds: float = Field(default=30.0, gt=0)

    # --- how far back ----------------------------------------------------------------------------------
    fitpipe_google_initial_days: int = Field(
        default=7,
        ge=1,
        description="First sync of a new grant: days before now (older history: `fitpipe backfill`).",
    )
    fitpipe_google_max_lookback_days: int = Field(
        default=30,
        ge=1,
        description="A nightly sync never re-reads further back than this (older gaps: backfill).",
    )
    fitpipe_google_consent_hours: float = Field(
        default=168.0, gt=0, description="How long a consent link stays valid."
    )

    # --- webhooks ------------------------------------------------------------------------------------
    google_health_webhook_secret: SecretStr | None = Field(
        default=None, description="The value Google sends in Authorization when verifying the endpoint."
    )
    google_health_webhook_public_keys: str | None = Field(
        default=None,
        description="PEM public key(s) (ECDSA P-256) that sign notifications; unset: no signature check.",
    )

    @property
    def initial_window(self) -> timedelta:
        return timedelta(days=self.fitpipe_google_initial_days)

    @property
    def max_lookback(self) -> timedelta:
        return timedelta(days=self.fitpipe_google_max_lookback_days)

    def client_credentials(self) -> tuple[str, str]:
        """(client id, client secret), or ConfigError naming what to set."""
        missing = [
            name
            for name, value in (
                ("GOOGLE_CLIENT_ID", self.google_client_id),
                ("GOOGLE_CLIENT_SECRET", self.google_client_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"the Google OAuth client is not configured: {' and '.join(missing)} not set",
                hint="create an OAuth client (type: web application) in the Google Cloud console and set "
                "GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET (in Kubernetes: spec.googleHealth.secretName)",
            )
        assert self.google_client_id is not None and self.google_client_secret is not None
        return self.google_client_id, self.google_client_secret.get_secret_value()


@lru_cache(maxsize=1)
def get_google_health_settings() -> GoogleHealthSettings:
    return GoogleHealthSettings()


def reset_google_health_settings() -> None:
    get_google_health_settings.cache_clear()
