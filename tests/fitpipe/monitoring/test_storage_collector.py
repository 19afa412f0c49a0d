"""fitpipe_storage_bytes / fitpipe_storage_before_compression_bytes: what fitpipe_storage_sizes() reports,
read at most once per TTL, absent (not zero) when the sizes cannot be read; served by the API's /metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from fitpipe.db import connect
from fitpipe.dbroles import API
from fitpipe.monitoring.storage_collector import StorageCollector
from fitpipe.participants import add_participant
from fitpipe.settings import Settings
from fitpipe.storage import read_sizes
from fitpipe_api.main import create_app
from tests.conftest import role_url
from tests.fitpipe.storage.conftest import load

pytestmark = pytest.mark.db


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _load_day(db: psycopg.Connection, ext: str, start: str) -> None:
    p, _ = add_participant(db, ext, "sizes", timezone="UTC")
    ts = pd.date_range(start, periods=20_000, freq="5s", tz="UTC")
    load(db, p, "heart_rate", ts, np.full(ts.size, 70.0), f"{ext}.json")


def test_gauges_follow_the_sizes_at_most_once_per_ttl(db: psycopg.Connection, database_url: str) -> None:
    _load_day(db, "S1", "2024-02-01")
    clock = Clock()
    registry = CollectorRegistry()
    registry.register(StorageCollector(lambda: connect(database_url), ttl_seconds=60, clock=clock))
    sizes = {t.table_name: t for t in read_sizes(db)}

    def gauge(table: str, state: str) -> float | None:
        return registry.get_sample_value("fitpipe_storage_bytes", {"table": table, "state": state})

    for table in ("samples", "rollup_1m", "rollup_1h", "rollup_1d"):
        assert gauge(table, "uncompressed") == sizes[table].uncompressed_bytes
        assert gauge(table, "compressed") == sizes[table].compressed_bytes
        before = registry.get_sample_value("fitpipe_storage_before_compression_bytes", {"table": table})
        assert before == sizes[table].before_compression_bytes
    first = gauge("samples", "uncompressed")
    _load_day(db, "S2", "2024-02-05")  # a new chunk: more bytes
    clock.now = 59
    assert gauge("samples", "uncompressed") == first  # still the cached figure
    clock.now = 61
    grown = gauge("samples", "uncompressed")
    assert grown is not None and first is not None and grown > first


def test_nothing_is_exported_when_the_sizes_cannot_be_read(db: psycopg.Connection, database_url: str) -> None:
    db.execute("DROP FUNCTION fitpipe_storage_sizes()")  # as on a schema before 0008
    registry = CollectorRegistry()
    registry.register(StorageCollector(lambda: connect(database_url)))
    assert (
        registry.get_sample_value("fitpipe_storage_bytes", {"table": "samples", "state": "uncompressed"})
        is None
    )


def test_the_api_serves_the_storage_gauges_as_its_restricted_role(
    db: psycopg.Connection, database_url: str
) -> None:
    _load_day(db, "S1", "2024-02-01")
    settings = Settings(_env_file=None)
    with TestClient(create_app(settings, url=role_url(database_url, API))) as client:
        text = client.get("/metrics").text
    assert 'fitpipe_storage_bytes{state="uncompressed",table="samples"}' in text
    assert 'fitpipe_storage_before_compression_bytes{table="rollup_1m"}' in text
