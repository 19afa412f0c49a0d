"""The API's metrics wiring (fitpipe_api.metrics): the declared metric families are what a full /metrics
exposition holds, and the real promtool finds nothing to complain about in it (naming, units, types).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool
from starlette.testclient import TestClient

from fitpipe.db import connect
from fitpipe.monitoring.http import HttpMetricsMiddleware
from fitpipe.monitoring.ingest_collector import IngestCollector
from fitpipe.monitoring.metrics import FAMILIES
from fitpipe.monitoring.storage_collector import StorageCollector
from fitpipe_api.gate import Gate
from fitpipe_api.metrics import create_metrics
from tests.prometheus_tools import Tool


@pytest.mark.db
@pytest.mark.monitoring
def test_full_exposition_holds_every_family_and_passes_promtool(
    db: psycopg.Connection, database_url: str, pool: ConnectionPool, promtool: Tool
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


def test_promtool_check_metrics_does_complain_about_bad_names(promtool: Tool) -> None:
    lint = promtool(
        "check",
        "metrics",
        input="# HELP x_count_total c\n# TYPE x_count_total gauge\nx_count_total 1\n",
        check=False,
    )
    assert lint.returncode != 0
