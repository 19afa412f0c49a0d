"""The declared metric families are what a full /metrics exposition holds, and the real promtool finds
nothing to complain about in it (naming, units, types).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool
from starlette.testclient import TestClient

from fitpipe.db import connect
from fitpipe.errors import NotFoundError
from fitpipe.monitoring.http import HttpMetricsMiddleware
from fitpipe.monitoring.ingest_collector import IngestCollector
from fitpipe.monitoring.metrics import FAMILIES, exposed_names, family
from fitpipe.monitoring.storage_collector import StorageCollector
from fitpipe_api.gate import Gate
from fitpipe_api.metrics import create_metrics


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(database_url, min_size=1, max_size=3, open=True) as pool:
        pool.wait()
        yield pool


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
    create_metrics(registry, pool=pool)
    with pool.connection():
        in_use = registry.get_sample_value("fitpipe_db_pool_connections", {"state": "in_use"})
    assert in_use == 1
    assert registry.get_sample_value("fitpipe_db_pool_max_connections") == 3
    assert registry.get_sample_value("fitpipe_db_pool_requests_total") >= 1  # type: ignore[operator]
    assert registry.get_sample_value("fitpipe_db_pool_connections", {"state": "in_use"}) == 0


@pytest.mark.db
@pytest.mark.monitoring
def test_full_exposition_holds_every_family_and_passes_promtool(  # type: ignore[no-untyped-def]
    db: psycopg.Connection, database_url: str, pool: ConnectionPool, promtool
) -> None:
    db.execute("INSERT INTO studies (name) VALUES ('alpha')")
    started = datetime.now(UTC) - timedelta(hours=1)
    db.execute(
        """INSERT INTO ingest_runs (trigger, status, started_at, finished_at, details) VALUES
           ('run', 'success', %s, %s, '{"metrics": {"steps": {"source": "takeout", "new": 3}},
                                       "quarantine_reasons": {"out_of_range": 1}}')""",
        (started, started + timedelta(minutes=5)),
    )
    registry = CollectorRegistry()
    metrics = create_metrics(
        registry, pool=pool, gates=(Gate("request", 2, 1.0, 1), Gate("export", 1, 1.0, 1))
    )
    registry.register(IngestCollector(lambda: connect(database_url), flagged=lambda conn: {"alpha": 0}))
    registry.register(StorageCollector(lambda: connect(database_url)))
    app = FastAPI()
    app.get("/health")(lambda: {"ok": True})
    app.add_middleware(HttpMetricsMiddleware, histogram=metrics.http_request_duration)
    TestClient(app).get("/health")

    text = generate_latest(registry).decode()
    exported = {m.name for m in text_string_to_metric_families(text)}
    # The parser drops _total from counter family names.
    assert exported == {f.name.removesuffix("_total") for f in FAMILIES}
    lint = promtool("check", "metrics", input=text, check=False)
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")


def test_promtool_check_metrics_does_complain_about_bad_names(promtool) -> None:  # type: ignore[no-untyped-def]
    lint = promtool(
        "check",
        "metrics",
        input="# HELP x_count_total c\n# TYPE x_count_total gauge\nx_count_total 1\n",
        check=False,
    )
    assert lint.returncode != 0
