"""fitpipe's own compression step: compress the chunks of samples and rollup_1m that are older than
FITPIPE_COMPRESS_AFTER_HOURS (the ingest lag window plus a margin), so the nightly delta rarely writes into a
compressed chunk. Runs after each daily run and as `fitpipe db compress`.

One chunk per transaction (`conn` must be in autocommit mode): an interrupted step keeps what it finished and
the next one carries on. A chunk that received late rows since it was compressed ("partial") is compressed
again. Without the full edition there is nothing to do, and the report says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from fitpipe.errors import ConfigError
from fitpipe.settings import Settings
from fitpipe.storage.edition import Edition, detect_edition

__all__ = ["CompressedChunk", "CompressionReport", "compression_cutoff", "compress_old_chunks"]


@dataclass(frozen=True)
class CompressedChunk:
    hypertable: str
    chunk: str
    range_start: datetime
    range_end: datetime
    state: str
    """What it was: uncompressed, or partial (compressed, with rows written since)."""
    bytes_before: int
    bytes_after: int | None
    """None in a dry run."""
    seconds: float


@dataclass
class CompressionReport:
    edition: Edition
    older_than: datetime
    chunks: list[CompressedChunk] = field(default_factory=list)
    dry_run: bool = False

    @property
    def skipped(self) -> str | None:
        """Why nothing could be compressed, or None when the step ran."""
        if not self.edition.compression:
            return f"{self.edition.describe()}: chunks stay uncompressed"
        return None

    @property
    def bytes_before(self) -> int:
        return sum(c.bytes_before for c in self.chunks)

    @property
    def bytes_after(self) -> int:
        return sum(c.bytes_after or 0 for c in self.chunks)


def compression_cutoff(settings: Settings, now: datetime) -> datetime:
    """Chunks ending before this are compressed. Refuses an age inside the lag window: every nightly run
    would then rewrite compressed chunks."""
    after = settings.compress_after
    if after < settings.ingest_lag:
        hours = after.total_seconds() / 3600
        raise ConfigError(
            f"FITPIPE_COMPRESS_AFTER_HOURS ({hours:g}) is shorter than the ingest lag window "
            f"FITPIPE_INGEST_LAG_HOURS ({settings.fitpipe_ingest_lag_hours:g}): every nightly run would write into "
            "compressed chunks",
            hint=f"set FITPIPE_COMPRESS_AFTER_HOURS to at least {settings.fitpipe_ingest_lag_hours + 24:g} "
            "(the lag plus one day of margin), or unset it for the default (the lag plus four days)",
        )
    return now - after


def compress_old_chunks(
    conn: psycopg.Connection,
    older_than: datetime,
    *,
    dry_run: bool = False,
    on_chunk: Callable[[CompressedChunk, int, int], None] | None = None,
) -> CompressionReport:
    """Compress every candidate chunk ending before `older_than`, oldest first."""
    report = CompressionReport(detect_edition(conn), older_than, dry_run=dry_run)
    if not report.edition.compression:
        return report
    candidates = conn.execute(
        "SELECT hypertable, chunk::text, range_start, range_end, state, pg_total_relation_size(chunk) "
        "FROM fitpipe_compression_candidates(%s)",
        (older_than,),
    ).fetchall()
    for i, (hypertable, chunk, start, end, state, size) in enumerate(candidates, 1):
        started = time.perf_counter()
        after: int | None = None
        if not dry_run:
            row = conn.execute("SELECT fitpipe_compress_chunk(%s::regclass)", (chunk,)).fetchone()
            after = int(row[0]) if row else None
        done = CompressedChunk(
            hypertable, chunk, start, end, state, int(size), after, time.perf_counter() - started
        )
        report.chunks.append(done)
        if on_chunk:
            on_chunk(done, i, len(candidates))
    return report
