"""The API's metrics wiring: the families of fitpipe.monitoring.metrics (the catalog, plain data) attached to
what measures them in this process: the HTTP histogram, the pool and admission collectors, the database
collectors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass

import psycopg
from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics
from psycopg_pool import ConnectionPool

from fitpipe.monitoring.admission import Admission, AdmissionCollector
from fitpipe.monitoring.ingest_collector import IngestCollector
from fitpipe.monitoring.metrics import family
from fitpipe.monitoring.pool import PoolCollector
from fitpipe.monitoring.storage_collector import StorageCollector

__all__ = ["ApiMetrics", "create_metrics"]


@dataclass(frozen=True)
class ApiMetrics:
    """The families the API measures itself (the others are read by collectors at scrape time)."""

    http_request_duration: Histogram


def create_metrics(
    registry: CollectorRegistry,
    *,
    connect: Callable[[], AbstractContextManager[psycopg.Connection]] | None = None,
    pool: ConnectionPool | None = None,
    flagged: Callable[[psycopg.Connection], Mapping[str, int]] | None = None,
    gates: Iterable[Admission] = (),
) -> ApiMetrics:
    """Create fitpipe's metrics on `registry`: the HTTP histogram always, the database-backed
    families when `connect` is given, the pool families when `pool` is given, the admission families when
    `gates` are.

    The API calls this once with its registry; tests call it with a fresh CollectorRegistry.
    """
    # A `_created` series per label set doubles the series count and no fitpipe query reads it.
    # (The switch is process-wide; the API is the only process that exports metrics.)
    disable_created_metrics()
    http = family("fitpipe_http_request_duration_seconds")
    metrics = ApiMetrics(
        http_request_duration=Histogram(
            http.name, http.help, labelnames=http.labels, buckets=http.buckets, registry=registry
        )
    )
    if connect is not None:
        registry.register(IngestCollector(connect, flagged=flagged))
        registry.register(StorageCollector(connect))
    if pool is not None:
        registry.register(PoolCollector(pool))
    gates = tuple(gates)
    if gates:
        registry.register(AdmissionCollector(gates))
    return metrics
