"""Backups of fitpipe's database that are proven to restore: `fitpipe db backup` / `fitpipe db restore`.

A backup is a directory holding a pg_dump custom-format archive of the database, taken from one exported
snapshot (consistent while the ingest job writes), and a manifest: versions, sizes, the archive's SHA-256
and, per table, a row count and an order-independent digest computed in the same snapshot. A restore
checks the archive, restores into a new database beside the target, compares every table with the
manifest, then swaps it in and runs `fitpipe migrate`, which recreates the login roles and grants that a
logical backup does not carry. Why logical, not a base backup plus WAL: docs/operations.md, "Backups".
"""

from fitpipe.backups.dump import BackupResult, create_backup
from fitpipe.backups.manifest import Manifest, TableDigest
from fitpipe.backups.restore import RestoreResult, restore_backup

__all__ = [
    "BackupResult",
    "Manifest",
    "RestoreResult",
    "TableDigest",
    "create_backup",
    "restore_backup",
]
