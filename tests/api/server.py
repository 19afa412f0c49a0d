"""`fitpipe serve api` in a subprocess (uvicorn, exactly as deployed) for the tests about the server's behaviour:
load, database restarts, hostile input over real sockets, its log lines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fitpipe.dbroles import API
from tests.api.factories import free_port
from tests.conftest import role_url

__all__ = ["ApiServer", "serve_api", "slow_reader"]


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
