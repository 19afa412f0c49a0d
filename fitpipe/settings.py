"""The one settings object every fitpipe process reads (environment variables, then defaults).

Names follow the original design where it had them (DB_*, MAIL_*); everything new is FITPIPE_*.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # --- where fitpipe keeps its local state -------------------------------------------------
    fitpipe_home: Path = Field(default=Path(".fitpipe"), description="Embedded database, inbox, logs.")
    fitpipe_inbox: Path | None = Field(default=None, description="Inbox root: <inbox>/<study>/<participant>/.")

    # --- database: DATABASE_URL wins; else DB_* (original design); else the embedded database -----
    database_url: SecretStr | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "fitpipe"
    db_user: str = "postgres"
    db_pass: SecretStr | None = None

    # --- ingestion ---------------------------------------------------------------------------------
    fitpipe_ingest_lag_hours: float = Field(
        default=72.0, description="Re-read window behind each cursor for late-syncing devices."
    )
    fitpipe_default_timezone: str = "UTC"
    fitpipe_default_study: str = "default"
    fitpipe_chunk_rows: int = Field(default=1_000_000, description="Rows per COPY chunk (bounds memory).")

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
    fitpipe_api_token: SecretStr | None = None
    fitpipe_api_point_budget: int = Field(default=2000, description="Points per series granularity=auto aims below.")
    fitpipe_api_max_json_points: int = Field(
        default=2_000_000, description="Largest JSON answer; bigger ones must use csv/parquet/arrow."
    )
    fitpipe_api_db_role: str | None = Field(
        default="fitpipe_api", description="Role the API switches to after connecting (SET ROLE); empty: none."
    )
    fitpipe_api_pool_size: int = 10
    fitpipe_contact_cooldown_hours: float = Field(default=72.0, description="No second email within this window.")

    @property
    def home(self) -> Path:
        return self.fitpipe_home.resolve()

    @property
    def inbox(self) -> Path:
        return (self.fitpipe_inbox or self.fitpipe_home / "inbox").resolve()

    @property
    def ingest_lag(self) -> timedelta:
        return timedelta(hours=self.fitpipe_ingest_lag_hours)

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
