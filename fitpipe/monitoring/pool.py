"""A Prometheus collector for the API's database connection pool (psycopg_pool), read at each scrape.

psycopg_pool keeps its own counters (get_stats); reading them at scrape time costs nothing per request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from fitpipe.monitoring.metrics import describe, family

__all__ = ["PoolCollector"]

_NAMES = (
    "fitpipe_db_pool_connections",
    "fitpipe_db_pool_max_connections",
    "fitpipe_db_pool_requests_waiting",
    "fitpipe_db_pool_requests_total",
    "fitpipe_db_pool_request_wait_seconds_total",
    "fitpipe_db_pool_request_errors_total",
)


class _HasStats(Protocol):
    def get_stats(self) -> Mapping[str, int]: ...


class PoolCollector(Collector):
    """Exports the fitpipe_db_pool_* families of a psycopg_pool ConnectionPool or AsyncConnectionPool."""

    def __init__(self, pool: _HasStats) -> None:
        self._pool = pool

    def describe(self) -> Iterator[Metric]:
        return describe(_NAMES)

    def collect(self) -> Iterator[Metric]:
        # get_stats() leaves out counters that never moved.
        stats = self._pool.get_stats()
        size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
        connections = family("fitpipe_db_pool_connections").gauge()
        connections.add_metric(["idle"], available)
        connections.add_metric(["in_use"], max(size - available, 0))
        yield connections
        gauges: tuple[tuple[str, float], ...] = (
            ("fitpipe_db_pool_max_connections", stats.get("pool_max", 0)),
            ("fitpipe_db_pool_requests_waiting", stats.get("requests_waiting", 0)),
        )
        for name, value in gauges:
            gauge = family(name).gauge()
            gauge.add_metric([], value)
            yield gauge
        counters: tuple[tuple[str, float], ...] = (
            ("fitpipe_db_pool_requests_total", stats.get("requests_num", 0)),
            ("fitpipe_db_pool_request_wait_seconds_total", stats.get("requests_wait_ms", 0) / 1000),
            ("fitpipe_db_pool_request_errors_total", stats.get("requests_errors", 0)),
        )
        for name, value in counters:
            counter = family(name).counter()
            counter.add_metric([], value)
            yield counter
