"""The storage step after each daily run: apply the studies' retention, remove the inbox folders of erased
participants, and compress chunks older than FITPIPE_COMPRESS_AFTER_HOURS (full edition). Each part is
idempotent; `conn` must be in autocommit mode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from fitpipe.settings import Settings
from fitpipe.storage.compression import (
    CompressedChunk,
    CompressionReport,
    compress_old_chunks,
    compression_cutoff,
)
from fitpipe.storage.erasure import remove_erased_inboxes
from fitpipe.storage.retention import RetentionResult, apply_retention

__all__ = ["MaintenanceReport", "maintain_storage"]


@dataclass
class MaintenanceReport:
    compression: CompressionReport
    retention: list[RetentionResult] = field(default_factory=list)
    inboxes_removed: list[Path] = field(default_factory=list)


def maintain_storage(
    conn: psycopg.Connection,
    settings: Settings,
    now: datetime,
    *,
    actor: dict[str, object],
    on_chunk: Callable[[CompressedChunk, int, int], None] | None = None,
) -> MaintenanceReport:
    retention = apply_retention(conn, now.date(), actor=actor)
    removed = remove_erased_inboxes(conn, settings.inbox)
    compression = compress_old_chunks(conn, compression_cutoff(settings, now), on_chunk=on_chunk)
    return MaintenanceReport(compression, retention, removed)
