"""The one settings object every fitpipe process reads (environment variables, then defaults).

Names follow the original design where it had them (DB_*, MAIL_*); everything new is FITPIPE_*.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from fitpipe.errors import ConfigError

__all__ = ["Settings", "get_settings"]


class _GoogleHealthSettings(BaseSettings):
    """The Google Health API source's part of the settings (see ingest_job/fitpipe_ingest/google_health)."""

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


class Settings(_GoogleHealthSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # --- where fitpipe keeps its local state -------------------------------------------------
    fitpipe_home: Path = Field(default=Path(".fitpipe"), description="Embedded database, inbox, logs.")
    fitpipe_inbox: Path | None = Field(
        default=None, description="Inbox root: <inbox>/<study>/<participant>/."
    )

    # --- database: DATABASE_URL wins; else DB_* (original design); else the embedded database -----
    # This is the administrator's login (a superuser): only `fitpipe migrate` and the admin commands use it.
    database_url: SecretStr | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "fitpipe"
    db_user: str = "postgres"
    db_pass: SecretStr | None = None

    # --- the processes' own logins (fitpipe/dbroles): a full URL, or the role's password on DB_HOST ---
    # Unset on the embedded database: the generated passwords in FITPIPE_HOME/db-roles.json are used.
    fitpipe_api_database_url: SecretStr | None = Field(
        default=None, description="The API's login (role fitpipe_api); default: built from its password."
    )
    fitpipe_ingest_database_url: SecretStr | None = Field(
        default=None,
        description="The ingest job's login (role fitpipe_ingest); default: built from its password.",
    )
    fitpipe_api_db_password: SecretStr | None = Field(
        default=None,
        description="Password of fitpipe_api: `fitpipe migrate` sets it, the API logs in with it.",
    )
    fitpipe_ingest_db_password: SecretStr | None = Field(
        default=None,
        description="Password of fitpipe_ingest: `fitpipe migrate` sets it, ingest logs in with it.",
    )
    fitpipe_owner_db_password: SecretStr | None = Field(
        default=None, description="Password of fitpipe_owner, the schema's owner: `fitpipe migrate` sets it."
    )
    fitpipe_api_allow_superuser: bool = Field(
        default=False,
        description="Let the API run with a login that can escalate (superuser, CREATEROLE, member of another "
        "role). Off: the API refuses to start. Only for a throwaway development database.",
    )

    # --- ingestion ---------------------------------------------------------------------------------
    fitpipe_ingest_lag_hours: float = Field(
        default=72.0, description="Re-read window behind each cursor for late-syncing devices."
    )
    fitpipe_ingest_source: Literal["all", "inbox", "googleHealthApi"] = Field(
        default="all",
        description="What `fitpipe run` reads: the inbox folders, the Google Health API, or both (the operator "
        "sets it from spec.ingest.source.type).",
    )
    fitpipe_default_timezone: str = "UTC"
    fitpipe_default_study: str = "default"
    fitpipe_chunk_rows: int = Field(default=1_000_000, description="Rows per COPY chunk (bounds memory).")

    # --- storage -------------------------------------------------------------------------------------
    fitpipe_compress_after_hours: float | None = Field(
        default=None,
        gt=0,
        description="Full TimescaleDB edition: chunks whose whole range is older than this are compressed after "
        "each daily run (`fitpipe db compress`). Default: the ingest lag window plus 4 days, at least 168 h, so "
        "the nightly delta rarely writes into a compressed chunk; a value inside the lag window is refused.",
    )

    # --- ingestion: odd input, plausible times, limits -------------------------------------------
    fitpipe_ingest_max_rejected_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A file with a larger share of rejected records fails with its first reasons instead of "
        "loading a sliver (one bad record never fails a file; a device's own no-reading marks do not count).",
    )
    fitpipe_ingest_plausible_start: date = Field(
        default=date(2000, 1, 1),
        description="Earliest plausible sample date (the study's earliest enrolment start when that is earlier); "
        "earlier samples are quarantined.",
    )
    fitpipe_ingest_plausible_future_hours: float = Field(
        default=24.0, ge=0, description="How far after now a sample may be; later ones are quarantined."
    )
    fitpipe_ingest_chunk_bytes: int = Field(
        default=16 << 20,
        ge=1 << 16,
        description="Bytes of a big CSV (Fitabase, long CSV) read and loaded at a time: bounds memory.",
    )
    fitpipe_ingest_hold_bytes: int = Field(
        default=64 << 20,
        ge=0,
        description="Files up to this size are read whole, once; bigger ones stream through the loader.",
    )
    fitpipe_ingest_max_file_bytes: int = Field(
        default=20 << 30, ge=1, description="Largest file or archive member read (decompressed)."
    )
    fitpipe_ingest_max_archive_bytes: int = Field(
        default=100 << 30, ge=1, description="Most bytes decompressed from one archive, nested ones included."
    )
    fitpipe_ingest_max_compression_ratio: int = Field(
        default=1000, ge=1, description="Archive members over 64 MiB compressed more than this are not read."
    )
    fitpipe_ingest_max_archive_depth: int = Field(
        default=3, ge=1, description="Archives inside archives, this deep."
    )

    # --- mail (original design's names) --------------------------------------------------------
    mail_server: str = "localhost"
    mail_port: int = 25
    mail_username: str | None = None
    mail_password: SecretStr | None = None
    mail_from: str = "fitpipe@localhost"
    mail_starttls: bool = False
    mail_ssl_tls: bool = False

    # --- API / dashboard -------------------------------------------------------------------------
    fitpipe_api_url: str = "http://127.0.0.1:8000"
    fitpipe_api_token: SecretStr | None = Field(
        default=None,
        description="The dashboard's own token, for proxy mode only: a `signin` token that can do nothing "
        "but start sessions for the people the proxy vouches for.",
    )
    fitpipe_api_point_budget: int = Field(
        default=2000, description="Points per series granularity=auto aims below."
    )
    fitpipe_api_max_json_points: int = Field(
        default=2_000_000, description="Largest JSON answer; bigger ones must use csv/parquet/arrow."
    )
    # --- API serving capacity (docs/operations.md, "Sizing the API") ----------------------------------
    fitpipe_api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes of `fitpipe serve api` (each with its own pool); more than one splits "
        "the HTTP metrics between processes, so prefer replicas on Kubernetes.",
    )
    fitpipe_api_pool_size: int = Field(
        default=8,
        ge=1,
        le=500,
        description="Requests a process answers from the database at once (one connection each); the rest "
        "wait up to FITPIPE_API_POOL_WAIT_SECONDS, then get 503 busy.",
    )
    fitpipe_api_export_slots: int = Field(
        default=10,
        ge=0,
        le=500,
        description="Streamed exports (csv/parquet/arrow) a process serves at once, each on a connection "
        "of its own for the whole download, on top of FITPIPE_API_POOL_SIZE.",
    )
    fitpipe_api_pool_wait_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How long a request may wait for a free connection before it is answered 503 busy.",
    )
    fitpipe_api_export_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How long an export may wait for a free export slot before it is answered 503 busy.",
    )
    fitpipe_api_retry_after_seconds: int = Field(
        default=1, ge=1, le=3600, description="Retry-After of a 503 (busy or database unavailable)."
    )
    fitpipe_api_db_connect_timeout_seconds: int = Field(
        default=2,
        ge=1,
        le=60,
        description="Connecting to the database gives up after this long (libpq's minimum is 2 s).",
    )
    fitpipe_api_statement_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A query of an ordinary request is cancelled after this long (0: never); exports are exempt.",
    )
    fitpipe_api_max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="Largest request body accepted; a bigger one is answered 413 without being read.",
    )
    fitpipe_api_max_query_bytes: int = Field(
        default=8192, ge=256, description="Longest query string accepted; a longer one is answered 414."
    )
    fitpipe_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the servers (`fitpipe serve`)."
    )
    fitpipe_log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Server log lines: json (one object a line), text, or auto (text on a terminal, else json).",
    )
    fitpipe_contact_cooldown_hours: float = Field(
        default=72.0, description="No second email within this window."
    )

    # --- people signing in (users, sessions, lock-out; see fitpipe/users.py and fitpipe/sessions.py) ----
    fitpipe_session_hours: float = Field(
        default=12.0, gt=0, description="A session ends this long after sign-in, however active."
    )
    fitpipe_session_idle_minutes: float = Field(
        default=30.0, gt=0, description="A session ends after this long without a request."
    )
    fitpipe_signin_max_failures: int = Field(
        default=5, ge=1, description="Wrong passwords in a row that lock an account."
    )
    fitpipe_signin_lockout_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked account refuses every sign-in."
    )
    fitpipe_password_min_length: int = Field(default=12, ge=8, description="Shortest password accepted.")
    fitpipe_password_scrypt_n: int = Field(
        default=2**15,
        ge=2**10,
        description="scrypt cost N for new password hashes (a power of two; r=8, p=3). Stored hashes keep "
        "the cost they were made with.",
    )

    # --- the dashboard's sign-in ---------------------------------------------------------------------
    fitpipe_dashboard_auth: Literal["password", "proxy"] = Field(
        default="password",
        description="password: people sign in with `fitpipe users` accounts; proxy: an auth proxy (OIDC) "
        "in front vouches for them in headers (see docs/kubernetes.md).",
    )
    fitpipe_dashboard_secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) (32 bytes, URL-safe base64; comma-separated while rotating, the first "
        "encrypts) for the session cookie; unset: a random key per process (sessions end on restart).",
    )
    fitpipe_dashboard_cookie_secure: bool = Field(
        default=True,
        description="Mark cookies Secure (browsers still send them to http://localhost and 127.0.0.1).",
    )
    fitpipe_dashboard_proxy_secret: SecretStr | None = Field(
        default=None,
        description="proxy mode: the value the auth proxy sends in X-Fitpipe-Proxy-Secret; requests "
        "without it are refused.",
    )
    fitpipe_dashboard_proxy_user_header: str = Field(
        default="X-Forwarded-Email", description="proxy mode: the header naming the person."
    )
    fitpipe_dashboard_proxy_match: Literal["email", "username"] = Field(
        default="email", description="proxy mode: which user column the header's value is matched with."
    )
    fitpipe_dashboard_sign_out_url: str = Field(
        default="/oauth2/sign_out",
        description="proxy mode: where Sign out sends the browser after ending the fitpipe session.",
    )

    @property
    def home(self) -> Path:
        return self.fitpipe_home.resolve()

    @property
    def inbox(self) -> Path:
        return (self.fitpipe_inbox or self.fitpipe_home / "inbox").resolve()

    @property
    def ingest_lag(self) -> timedelta:
        return timedelta(hours=self.fitpipe_ingest_lag_hours)

    @property
    def compress_after(self) -> timedelta:
        """FITPIPE_COMPRESS_AFTER_HOURS, or the lag window plus four days of margin (at least a week)."""
        if self.fitpipe_compress_after_hours is not None:
            return timedelta(hours=self.fitpipe_compress_after_hours)
        return max(timedelta(hours=168), self.ingest_lag + timedelta(days=4))

    @property
    def plausible_future(self) -> timedelta:
        return timedelta(hours=self.fitpipe_ingest_plausible_future_hours)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.fitpipe_session_hours)

    @property
    def session_idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.fitpipe_session_idle_minutes)

    @property
    def signin_lockout(self) -> timedelta:
        return timedelta(minutes=self.fitpipe_signin_lockout_minutes)

    def external_database_url(self) -> str | None:
        """The URL of an external database when one is configured, else None (use the embedded one)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        if self.db_host:
            auth = quote(self.db_user, safe="")
            if self.db_pass is not None:
                auth += ":" + quote(self.db_pass.get_secret_value(), safe="")
            return f"postgresql://{auth}@{self.db_host}:{self.db_port}/{quote(self.db_name, safe='')}"
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change the environment; this makes the next get_settings() re-read it."""
    get_settings.cache_clear()
