"""The declared metric families follow Prometheus' naming rules, and the pool collector reports the pool.
(That a full /metrics exposition holds every family and passes promtool: tests/api/test_metrics.py.)
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from fitpipe.errors import NotFoundError
from fitpipe.monitoring.metrics import FAMILIES, exposed_names, family
from fitpipe.monitoring.pool import PoolCollector


def test_names_follow_prometheus_conventions() -> None:
    for f in FAMILIES:
        assert f.name.startswith("fitpipe_")
        assert f.name.endswith("_total") == (f.kind == "counter"), f.name
        assert "user_id" not in f.labels and "participant" not in f.labels
    assert "fitpipe_ingest_duration_seconds_bucket" in exposed_names()


def test_unknown_family_is_a_not_found_error() -> None:
    with pytest.raises(NotFoundError, match="fitpipe_nope"):
        family("fitpipe_nope")


@pytest.mark.db
def test_pool_collector_reports_connections_in_use(database_url: str, pool: ConnectionPool) -> None:
    registry = CollectorRegistry()
    registry.register(PoolCollector(pool))
    with pool.connection():
        in_use = registry.get_sample_value("fitpipe_db_pool_connections", {"state": "in_use"})
    assert in_use == 1
    assert registry.get_sample_value("fitpipe_db_pool_max_connections") == 3
    requests = registry.get_sample_value("fitpipe_db_pool_requests_total")
    assert requests is not None and requests >= 1
    assert registry.get_sample_value("fitpipe_db_pool_connections", {"state": "in_use"}) == 0
