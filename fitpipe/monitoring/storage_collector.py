"""A Prometheus collector for the bytes fitpipe's tables take on disk, compressed and uncompressed, read
from the database (sql/0008_storage.sql: fitpipe_storage_sizes()) at most once per `ttl_seconds`: sizes
change with the nightly load, and reading them stats every chunk's files.

    fitpipe_storage_bytes{table, state}                 state = compressed | uncompressed
    fitpipe_storage_before_compression_bytes{table}     what the compressed chunks took before compression

When the sizes cannot be read (database down, schema not migrated) nothing is exported: the
IngestCollector's fitpipe_database_up says whether the database is readable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import psycopg
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from fitpipe.errors import FitpipeError
from fitpipe.monitoring.metrics import describe, family
from fitpipe.storage.sizes import TableSize, read_sizes

__all__ = ["StorageCollector"]

log = logging.getLogger(__name__)

_NAMES = ("fitpipe_storage_bytes", "fitpipe_storage_before_compression_bytes")


class StorageCollector(Collector):
    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[psycopg.Connection]],
        *,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._sizes: list[TableSize] | None = None
        self._read_at = float("-inf")

    def describe(self) -> Iterator[Metric]:
        return describe(_NAMES)

    def _current(self) -> list[TableSize] | None:
        with self._lock:
            if self._clock() - self._read_at >= self._ttl:
                try:
                    with self._connect() as conn:
                        self._sizes = read_sizes(conn)
                except (psycopg.Error, FitpipeError) as exc:
                    log.debug("cannot read storage sizes: %s", str(exc).strip().splitlines()[-1:])
                    self._sizes = None
                self._read_at = self._clock()
            return self._sizes

    def collect(self) -> Iterator[Metric]:
        sizes = self._current()
        if sizes is None:
            return
        on_disk = family("fitpipe_storage_bytes").gauge()
        before = family("fitpipe_storage_before_compression_bytes").gauge()
        for t in sizes:
            on_disk.add_metric([t.table_name, "compressed"], t.compressed_bytes)
            on_disk.add_metric([t.table_name, "uncompressed"], t.uncompressed_bytes)
            before.add_metric([t.table_name], t.before_compression_bytes)
        yield on_disk
        yield before
