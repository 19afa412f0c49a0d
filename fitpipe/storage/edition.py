"""Which database fitpipe talks to: plain PostgreSQL, TimescaleDB's Apache edition (no compression), or the
full edition (its TSL module loaded: native compression). Decided by what the server reports, never by
version strings: the extension present, `timescaledb.license` = timescale, and the TSL module loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import psycopg

__all__ = ["Edition", "EditionName", "detect_edition"]

EditionName = Literal["postgresql", "apache", "full"]


@dataclass(frozen=True)
class Edition:
    timescaledb: str | None
    """Installed extension version, None without TimescaleDB."""
    license: str | None
    """The `timescaledb.license` setting (apache or timescale)."""
    compression: bool
    """Native compression usable: the full edition with its TSL module loaded."""

    @property
    def name(self) -> EditionName:
        if self.timescaledb is None:
            return "postgresql"
        return "full" if self.compression else "apache"

    def describe(self) -> str:
        if self.timescaledb is None:
            return "plain PostgreSQL (no TimescaleDB: no chunks, no compression)"
        if self.compression:
            return f"TimescaleDB {self.timescaledb}, full edition (TSL module loaded: native compression)"
        return f"TimescaleDB {self.timescaledb}, Apache edition (license {self.license or 'apache'}: no compression)"


def detect_edition(conn: psycopg.Connection) -> Edition:
    row = conn.execute(
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'), "
        "current_setting('timescaledb.license', true)"
    ).fetchone()
    version, license_ = (row[0], row[1]) if row else (None, None)
    compression = False
    if version is not None and license_ == "timescale":
        # A savepoint: tsl_loaded() is missing on very old versions, and an error must not abort the caller's
        # transaction.
        try:
            with conn.transaction():
                loaded = conn.execute("SELECT _timescaledb_functions.tsl_loaded()").fetchone()
            compression = bool(loaded and loaded[0])
        except psycopg.Error:
            compression = False
    return Edition(timescaledb=version, license=license_ or None, compression=compression)
