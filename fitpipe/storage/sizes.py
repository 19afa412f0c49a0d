"""Bytes on disk of samples and the rollups, split into compressed and uncompressed chunks
(sql/0008_storage.sql: fitpipe_storage_sizes(); every edition, plain PostgreSQL too)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

__all__ = ["TableSize", "read_sizes", "TABLES"]

TABLES = ("samples", "rollup_1m", "rollup_1h", "rollup_1d")


@dataclass(frozen=True)
class TableSize:
    table_name: str
    chunks: int
    compressed_chunks: int
    uncompressed_bytes: int
    """Bytes of chunks that are not compressed (heap, index, TOAST), plus the parent table."""
    compressed_bytes: int
    """Bytes of compressed chunks as they are now (with rows written into them since)."""
    before_compression_bytes: int
    """What the compressed chunks took before compression."""

    @property
    def total_bytes(self) -> int:
        return self.uncompressed_bytes + self.compressed_bytes

    @property
    def compression_ratio(self) -> float | None:
        """Bytes before / after compression of the compressed chunks (None when none is compressed)."""
        if not self.compressed_bytes or not self.before_compression_bytes:
            return None
        return self.before_compression_bytes / self.compressed_bytes


def read_sizes(conn: psycopg.Connection) -> list[TableSize]:
    with conn.cursor(row_factory=class_row(TableSize)) as cur:
        return cur.execute(
            "SELECT table_name, chunks, compressed_chunks, uncompressed_bytes, compressed_bytes, "
            "before_compression_bytes FROM fitpipe_storage_sizes()"
        ).fetchall()
