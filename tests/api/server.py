"""`fitpipe serve api` in a subprocess (uvicorn, exactly as deployed) for the tests about the server's behaviour:
load, database restarts, hostile input over real sockets, its log lines."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from fitpipe.dbroles import API
from tests.api.factories import free_port
from tests.conftest import role_url

__all__ = ["ApiServer", "serve_api", "slow_reader", "backend_waiting_on_a_lock", "assert_slots_free"]


def slow_reader(timeout: float = 60) -> httpx.Client:
    """A client with a small receive buffer: one that stops reading keeps a streamed answer from finishing
    (the kernel would otherwise take tens of MB on loopback, and an export would end while "stalled")."""
    return httpx.Client(
        timeout=timeout,
        transport=httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)]),
    )


@dataclass
class ApiServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def errors(self) -> list[str]:
        """Log lines at ERROR or above (an unexpected exception: a 500) or with a traceback, and lines outside
        the JSON log (a traceback printed by something else)."""
        bad = []
        for line in self.log_lines():
            try:
                entry = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            if entry.get("level") in ("ERROR", "CRITICAL") or "exc_info" in entry:
                bad.append(line)
        return bad


def _environment(database_url: str, home: Path, settings: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DB_", "FITPIPE_", "MAIL_", "DATABASE_URL", "GOOGLE_"))
    }
    env.update(
        DATABASE_URL=database_url,  # the administrator's login; the API logs in as its own role:
        FITPIPE_API_DATABASE_URL=role_url(database_url, API),
        FITPIPE_HOME=str(home),  # FITPIPE_LOG_FORMAT unset: JSON lines, as the log is a file, not a terminal
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT="9",  # nothing listens: a contact that gets as far as sending fails (502), never hangs
    )
    env.update(settings)
    return env


@contextmanager
def serve_api(
    database_url: str, home: Path, settings: Mapping[str, str] | None = None, *, ready_within: float = 60
) -> Iterator[ApiServer]:
    """The API on a free loopback port until the block ends (SIGINT, then SIGKILL if it lingers).
    `database_url` is a superuser's login to a migrated database (the test fixtures'); the API logs in as
    its own role there."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = home / f"api-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fitpipe.cli", "serve", "api", "--port", str(port)],
            env=_environment(database_url, home, settings or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ApiServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the API exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the API did not start within {ready_within} s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def backend_waiting_on_a_lock(database_url: str, within: float = 20) -> int:
    """The pid of a backend of the API (on the test's database) that waits for a lock; fails after `within` s."""
    deadline = time.monotonic() + within
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'fitpipe-api' "
                "AND wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.02)
    raise AssertionError("no request of the API waits on the locked table")


def assert_slots_free(server: ApiServer, database_url: str, token: str, *, slots: int) -> None:
    """All `slots` request slots can be taken at once: slots - 1 requests are held in the database (their
    COPY waits on a locked rollup_1h) and one more request is answered 200 meanwhile. A slot lost earlier
    would make that last one wait its turn and get 503 busy (a single request at a time cannot tell)."""
    headers = {"Authorization": f"Bearer {token}"}
    with psycopg.connect(database_url) as locker, ThreadPoolExecutor(max(1, slots - 1)) as pool:
        locker.execute("LOCK TABLE rollup_1h IN ACCESS EXCLUSIVE MODE")
        held = [
            pool.submit(
                httpx.get,
                server.url + "/api/v1/adherence",
                params={"study": "a", "valid_hours": "true"},
                headers=headers,
                timeout=60,
            )
            for _ in range(slots - 1)
        ]
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                deadline = time.monotonic() + 20
                waiting = 0
                while time.monotonic() < deadline:
                    waiting = int(
                        conn.execute(  # type: ignore[index]
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fitpipe-api' "
                            "AND wait_event_type = 'Lock' AND datname = current_database()"
                        ).fetchone()[0]
                    )
                    if waiting >= slots - 1:
                        break
                    time.sleep(0.02)
                assert waiting == slots - 1, f"{waiting} of {slots - 1} held requests reached the database"
            last = httpx.get(server.url + "/api/v1/metrics-catalog", headers=headers, timeout=30)
            assert last.status_code == 200, f"with {slots - 1} slots held the last one answered {last.text}"
        finally:
            locker.rollback()
        assert [f.result(timeout=60).status_code for f in held] == [200] * (slots - 1)
