"""The API under concurrent load, on a real server process (`fitpipe serve api`) and the real database:
exports own one connection each and complete with every row, requests beyond the pool are answered 503 busy
with Retry-After at once, a stuck query is cut by the statement timeout, a client that leaves mid-export gives
its connection back, and the server answers normally right after an overload.

Speed targets live in bench/load.py (docs/benchmarks.md); the bounds here are generous, about hanging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from fitpipe.participants import Participant, add_participant
from tests.api.conftest import Tokens, auth, load_heart_rate
from tests.api.factories import scalar
from tests.api.server import ApiServer, assert_slots_free, serve_api, slow_reader

pytestmark = [pytest.mark.db, pytest.mark.slow]

DAYS = 3
ROWS = DAYS * 86_400  # 1 Hz heart rate: a CSV of ~15 MB, more than loopback's socket buffers hold


@pytest.fixture
def big(db: psycopg.Connection, tokens: Tokens) -> Participant:
    p, _ = add_participant(db, "BIG", "a", timezone="UTC")
    secs = np.arange(ROWS)
    load_heart_rate(db, p, "2024-02-01T00:00:00Z", secs, 60 + (secs % 40).astype(np.float64))
    return p


EXPORT = {
    "user_id": "BIG",
    "metric": "heart_rate",
    "granularity": "raw",
    "format": "csv",
    "start_date": "2024-02-01",
    "end_date": "2024-02-03",
}


def _api_backends(db: psycopg.Connection) -> int:
    return int(scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fitpipe-api'"))


def _in_use(server: ApiServer) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith('fitpipe_db_pool_connections{state="in_use"}'))
    return float(line.split()[-1])


@pytest.fixture
def server(database_url: str, big: Participant, tmp_path: Path) -> Iterator[ApiServer]:
    with serve_api(
        database_url,
        tmp_path / "home",
        {
            "FITPIPE_API_POOL_SIZE": "2",
            "FITPIPE_API_EXPORT_SLOTS": "10",
            "FITPIPE_API_POOL_WAIT_SECONDS": "5",
        },
    ) as s:
        yield s


def test_ten_parallel_exports_complete_with_every_row_while_other_requests_are_answered(
    server: ApiServer, tokens: Tokens, db: psycopg.Connection
) -> None:
    headers = auth(tokens.admin)
    started = threading.Barrier(11)
    peak_backends = 0

    def export(_: int) -> tuple[int, int, str]:
        with (
            httpx.Client(timeout=120) as client,
            client.stream("GET", server.url + "/api/v1/timeseries", params=EXPORT, headers=headers) as r,
        ):
            first = True
            lines = 0
            for chunk in r.iter_bytes():
                if first:
                    started.wait(timeout=60)
                    first = False
                lines += chunk.count(b"\n")
            return r.status_code, lines, r.headers.get("content-type", "")

    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(export, i) for i in range(10)]
        started.wait(timeout=60)  # every export is streaming now
        peak_backends = _api_backends(db)
        t0 = time.monotonic()
        other = httpx.get(
            server.url + "/api/v1/participants", params={"study": "a"}, headers=headers, timeout=30
        )
        other_seconds = time.monotonic() - t0
        results = [f.result(timeout=300) for f in futures]
    assert [status for status, _, _ in results] == [200] * 10
    assert {lines for _, lines, _ in results} == {ROWS + 1}  # the header and every row, in all ten
    assert all(ct.startswith("text/csv") for _, _, ct in results)
    assert other.status_code == 200 and other_seconds < 10  # the exports do not take the requests' slots
    # one connection per export, two for requests, two for probes: never more
    assert peak_backends <= 2 + 10 + 2
    assert _in_use(server) == 0  # every connection went back


def test_a_client_that_leaves_mid_export_gives_its_connection_back(
    database_url: str, big: Participant, tokens: Tokens, db: psycopg.Connection, tmp_path: Path
) -> None:
    settings = {"FITPIPE_API_EXPORT_SLOTS": "1", "FITPIPE_API_EXPORT_WAIT_SECONDS": "0.5"}
    with serve_api(database_url, tmp_path / "home", settings) as server:
        headers = auth(tokens.admin)
        client = slow_reader()
        stream = client.stream("GET", server.url + "/api/v1/timeseries", params=EXPORT, headers=headers)
        response = stream.__enter__()
        assert response.status_code == 200
        chunks = response.iter_bytes()  # (kept: a dropped iterator would close the connection)
        next(chunks)  # the export runs and holds the only export slot

        t0 = time.monotonic()
        second = httpx.get(server.url + "/api/v1/timeseries", params=EXPORT, headers=headers, timeout=30)
        assert second.status_code == 503 and time.monotonic() - t0 < 5
        assert second.headers["Retry-After"] == "1"
        assert second.json()["reason"] == "busy"

        stream.__exit__(None, None, None)  # the client goes away mid-download
        client.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            _in_use(server) or scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%'")
        ):
            time.sleep(0.1)
        assert _in_use(server) == 0
        assert (
            scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%' AND state = 'active'")
            == 0
        )

        third = httpx.get(server.url + "/api/v1/timeseries", params=EXPORT, headers=headers, timeout=60)
        assert third.status_code == 200 and third.text.count("\n") == ROWS + 1


def test_requests_beyond_the_pool_get_503_busy_at_once_and_a_stuck_query_is_cut(
    database_url: str, big: Participant, tokens: Tokens, tmp_path: Path
) -> None:
    settings = {
        "FITPIPE_API_POOL_SIZE": "1",
        "FITPIPE_API_POOL_WAIT_SECONDS": "0.3",
        "FITPIPE_API_STATEMENT_TIMEOUT_SECONDS": "2",
    }
    with (
        serve_api(database_url, tmp_path / "home", settings) as server,
        psycopg.connect(database_url) as locker,
    ):
        headers = auth(tokens.admin)
        # A transaction holding every token row: the next request's authentication waits on it, in its slot.
        locker.execute("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(1) as pool:
            t0 = time.monotonic()
            stuck = pool.submit(
                httpx.get, server.url + "/api/v1/metrics-catalog", headers=headers, timeout=30
            )
            time.sleep(0.5)  # it has the only slot now
            busy = httpx.get(server.url + "/api/v1/metrics-catalog", headers=headers, timeout=30)
            busy_seconds = time.monotonic() - t0 - 0.5
            assert busy.status_code == 503 and busy.json()["reason"] == "busy"
            assert busy.headers["Retry-After"] == "1"
            assert busy_seconds < 2  # the wait (0.3 s), not a pool timeout
            # probes do not queue behind requests: liveness and the database's state answer at once
            assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
            assert httpx.get(server.url + "/readyz", timeout=5).status_code == 200
            cut = stuck.result(timeout=30)
            cut_seconds = time.monotonic() - t0
        locker.rollback()
        assert cut.status_code == 503 and cut.json()["reason"] == "timeout"  # the statement timeout (2 s)
        assert cut_seconds < 10
        assert (
            httpx.get(server.url + "/api/v1/metrics-catalog", headers=headers, timeout=5).status_code == 200
        )
        answers = [json_line for json_line in server.log_lines() if '"status": 503' in json_line]
        assert any('"level": "WARNING"' in a and '"route": "/api/v1/metrics-catalog"' in a for a in answers)


def test_an_overload_is_answered_and_forgotten_at_once(
    database_url: str, big: Participant, tokens: Tokens, tmp_path: Path
) -> None:
    settings = {"FITPIPE_API_POOL_SIZE": "2", "FITPIPE_API_POOL_WAIT_SECONDS": "0.5"}
    with serve_api(database_url, tmp_path / "home", settings) as server:
        headers = auth(tokens.admin)
        params = {"study": "a"}

        def call(_: int) -> tuple[int, str | None, float]:
            t0 = time.monotonic()
            r = httpx.get(server.url + "/api/v1/adherence", params=params, headers=headers, timeout=30)
            return r.status_code, r.headers.get("Retry-After"), time.monotonic() - t0

        with ThreadPoolExecutor(60) as pool:
            answers = list(pool.map(call, range(240)))
        assert {status for status, _, _ in answers} <= {200, 503}
        assert all(retry == "1" for status, retry, _ in answers if status == 503)
        slowest = max(seconds for _, _, seconds in answers)
        assert slowest < 10, f"an answer took {slowest:.1f} s"  # nothing waits in an unbounded queue
        t0 = time.monotonic()
        after = httpx.get(server.url + "/api/v1/adherence", params=params, headers=headers, timeout=30)
        took = time.monotonic() - t0
        assert after.status_code == 200 and took < 3, f"{after.status_code} after {took:.1f} s"
        assert_slots_free(server, database_url, tokens.admin, slots=2)  # the overload lost no slot
        assert server.errors() == []  # no unexpected exception behind any answer
