"""Storage at trial scale: which TimescaleDB edition the database runs, compressing old chunks on the full
edition, bytes on disk per table, erasing a participant and per-study retention.

The privileged work happens in SQL functions of sql/0008_storage.sql (SECURITY DEFINER, so the ingest and
API roles need not own the tables); these modules call them and turn their answers into typed results.
"""

from fitpipe.storage.compression import (
    CompressedChunk,
    CompressionReport,
    compress_old_chunks,
    compression_cutoff,
)
from fitpipe.storage.edition import Edition, detect_edition
from fitpipe.storage.erasure import (
    ErasureReport,
    erase_participant,
    erasure_preview,
    remove_erased_inboxes,
    remove_inbox_folder,
)
from fitpipe.storage.maintenance import MaintenanceReport, maintain_storage
from fitpipe.storage.retention import (
    RetentionResult,
    StudyRetention,
    apply_retention,
    list_retention,
    set_retention,
)
from fitpipe.storage.sizes import TableSize, read_sizes

__all__ = [
    "CompressedChunk",
    "CompressionReport",
    "Edition",
    "ErasureReport",
    "MaintenanceReport",
    "RetentionResult",
    "StudyRetention",
    "TableSize",
    "apply_retention",
    "compress_old_chunks",
    "compression_cutoff",
    "detect_edition",
    "erase_participant",
    "erasure_preview",
    "list_retention",
    "maintain_storage",
    "read_sizes",
    "remove_erased_inboxes",
    "remove_inbox_folder",
    "set_retention",
]
