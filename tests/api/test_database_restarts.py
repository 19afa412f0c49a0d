"""Stopping and starting the real embedded database under a running API process (`fitpipe serve api`) and under a
running export: the database comes back on its port, the API says so honestly meanwhile (503 "database
unavailable" quickly, /readyz 503, /healthz 200) and serves again within 5 s of the database being back,
without a restart. Each test runs its own embedded server (the session's one is shared by every test)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from fitpipe.localdb.server import LocalDatabase
from fitpipe.migrations import migrate
from fitpipe.participants import add_participant
from fitpipe.tokens import create_token
from tests.api.conftest import load_heart_rate
from tests.api.server import ApiServer, serve_api, slow_reader
from tests.conftest import role_passwords

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROWS = 3 * 86_400
RECOVERY_SECONDS = 5.0


@dataclass
class OwnDatabase:
    local: LocalDatabase
    url: str
    token: str


@pytest.fixture
def own(pg_server_url: str) -> Iterator[OwnDatabase]:
    """An embedded server of this test's own (same binaries as the session's), migrated, with data and a token."""
    # not under pytest's tmp_path (mode 700): the postgres user runs the server when tests run as root
    home = Path(tempfile.mkdtemp(prefix="fitpipe-test-restart-"))
    home.chmod(0o755)
    local = LocalDatabase(home)
    local.start(install_extension=False)  # TimescaleDB is used when the session's start installed it
    try:
        url = local.url()
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, passwords=role_passwords(url))  # this server's own roles, as the session's
            p, _ = add_participant(conn, "R1", "r", timezone="UTC")
            secs = np.arange(ROWS)
            load_heart_rate(conn, p, "2024-02-01T00:00:00Z", secs, 60 + (secs % 30).astype(np.float64))
            _, token = create_token(conn, name="restart", role="admin", studies=[], all_studies=True)
        yield OwnDatabase(local, url, token)
    finally:
        local.stop()
        shutil.rmtree(home, ignore_errors=True)


def _port_taken_without_reuse(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def test_a_restart_keeps_the_port_although_clients_were_connected(own: OwnDatabase) -> None:
    port = own.local.status().port
    assert port is not None, "the server runs"
    with psycopg.connect(own.url, autocommit=True) as client:
        client.execute("SELECT 1")
        own.local.stop()  # the server closes the client's connection: its side lingers in TIME_WAIT
        lingering = _port_taken_without_reuse(port)  # what made the old probe pick another port
        own.local.start(install_extension=False)
    assert own.local.status().port == port, f"moved from {port} (a plain bind saw it taken: {lingering})"
    with psycopg.connect(own.url, autocommit=True) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


def _get(server: ApiServer, token: str) -> httpx.Response:
    return httpx.get(
        server.url + "/api/v1/participants",
        params={"study": "r"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _serve_again_within(server: ApiServer, token: str, seconds: float) -> float:
    """Seconds until a participant list answers 200 (polling every 50 ms), failing after `seconds` + 10."""
    t0 = time.monotonic()
    while True:
        r = _get(server, token)
        if r.status_code == 200:
            return time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert time.monotonic() - t0 < seconds + 10, "the API did not serve again"
        time.sleep(0.05)


def test_the_api_serves_again_within_5_s_of_the_database_being_back(own: OwnDatabase, tmp_path: Path) -> None:
    with serve_api(own.url, tmp_path / "home") as server:
        assert _get(server, own.token).status_code == 200
        for _ in range(3):  # several times: no back-off that grows with each outage
            own.local.stop()
            t0 = time.monotonic()
            down = _get(server, own.token)
            assert time.monotonic() - t0 < 5  # the connect timeout (2 s), not a 30 s pool timeout
            assert down.status_code == 503
            assert down.json()["reason"] == "database_unavailable"
            assert down.headers["Retry-After"] == "1"
            assert (
                httpx.get(server.url + "/healthz", timeout=10).status_code == 200
            )  # alive: do not restart it
            ready = httpx.get(server.url + "/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["status"] == "not ready"
            time.sleep(1)  # down for a while: the pool has given up its own attempts

            own.local.start(install_extension=False)
            assert _serve_again_within(server, own.token, RECOVERY_SECONDS) <= RECOVERY_SECONDS
            assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        unavailable = [line for line in server.log_lines() if '"status": 503' in line]
        assert unavailable, "503 answers are logged"


EXPORT = {
    "user_id": "R1",
    "metric": "heart_rate",
    "granularity": "raw",
    "format": "csv",
    "start_date": "2024-02-01",
    "end_date": "2024-02-03",
}


def test_an_export_cut_by_a_database_stop_ends_visibly_incomplete_and_the_next_one_is_whole(
    own: OwnDatabase, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {own.token}"}
    with serve_api(own.url, tmp_path / "home") as server:
        received = 0
        with (
            slow_reader() as client,
            client.stream("GET", server.url + "/api/v1/timeseries", params=EXPORT, headers=headers) as r,
        ):
            assert r.status_code == 200
            chunks = r.iter_bytes()
            received += len(next(chunks))  # the export is streaming (and far from done: ~15 MB)
            own.local.stop()
            # the chunked body never gets its last chunk: the client sees an error, not a clean short file
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in chunks:
                    received += len(chunk)
        own.local.start(install_extension=False)
        _serve_again_within(server, own.token, RECOVERY_SECONDS)
        whole = httpx.get(server.url + "/api/v1/timeseries", params=EXPORT, headers=headers, timeout=120)
        assert whole.status_code == 200
        assert whole.text.count("\n") == ROWS + 1
        assert len(whole.content) > received  # the cut one was short
