#!/usr/bin/env python3
"""fitpipe's backup agent: runs pgBackRest inside the database pod, on request of the backup CronJobs.

A backup needs the database's data directory and socket, which only the database pod has, so the
scheduled Jobs cannot take it themselves; this agent, a sidecar of the database, takes it for them
(as Timescale's own charts do). The operator ships this file in a ConfigMap; it runs on the
timescaledb-ha image's python3 and uses the standard library only.

    agent.py serve   [--port 8081]                 the sidecar: creates the stanza, then answers
    agent.py trigger --type full|diff --url URL    a backup Job: asks for a backup, waits for its end

HTTP API (every call but /healthz needs `Authorization: Bearer <FITPIPE_BACKUP_TOKEN>`):
    GET  /healthz        200 {"stanza": "pending"|"ready"|"failed", "running": id|null, "message": ...}
    POST /backups        {"type": "full"|"diff"} -> 202 {"id": ...}; 409 one is running; 503 no stanza yet
    GET  /backups/<id>   {"id", "type", "status": "running"|"succeeded"|"failed", "returncode", "output", ...}
    GET  /info           `pgbackrest info --output=json`
One backup at a time; pgBackRest expires old backups (the configured retention) after each one.
`trigger` exits 0 when the backup succeeded, 1 when it failed, 2 when it could not ask.
"""

# It runs on whatever python3 the database image has, so nothing newer than 3.8 (no datetime.UTC).
# ruff: noqa: UP017

from __future__ import annotations

import argparse
import datetime
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PGBACKREST = os.environ.get("FITPIPE_PGBACKREST", "/etc/fitpipe-backup/pgbackrest")
TYPES = ("full", "diff")
OUTPUT_TAIL = 8000
KEEP = 20


def log(message: str, **fields: object) -> None:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    extra = " ".join(f"{key}={json.dumps(value)}" for key, value in fields.items())
    print(f"{stamp} backup-agent {message} {extra}".rstrip(), flush=True)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pgbackrest(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PGBACKREST, *args], capture_output=True, text=True, timeout=timeout, check=False)


class Busy(Exception):
    pass


class NotReady(Exception):
    pass


class Agent:
    """The stanza's state and the backups asked for; the HTTP handler and the worker threads share it."""

    def __init__(self, retry_seconds: float = 10.0) -> None:
        self.lock = threading.Lock()
        self.stanza = "pending"
        self.message = "waiting for PostgreSQL"
        self.backups: dict[str, dict[str, object]] = {}
        self.running: str | None = None
        self.retry_seconds = retry_seconds

    def ensure_stanza(self, stop: threading.Event) -> None:
        """stanza-create (idempotent) until it succeeds, then `check` (WAL reaches the repository)."""
        while not stop.is_set():
            created = pgbackrest("stanza-create", timeout=600)
            if created.returncode == 0:
                checked = pgbackrest("check", timeout=600)
                with self.lock:
                    if checked.returncode == 0:
                        self.stanza, self.message = "ready", "stanza created; WAL archiving works"
                    else:
                        self.stanza, self.message = "ready", "stanza created; check: " + _last_line(checked)
                log("stanza ready", check=checked.returncode)
                return
            reason = _last_line(created)
            with self.lock:
                # A repository holding another database's stanza never becomes right by waiting.
                if "do not match the database" in reason or "[028]" in reason:
                    self.stanza, self.message = "failed", reason
                    log("stanza refused", reason=reason)
                    return
                self.message = reason
            log("stanza not created yet", reason=reason)
            stop.wait(self.retry_seconds)

    def start(self, kind: str) -> dict[str, object]:
        if kind not in TYPES:
            raise ValueError(f"type must be one of {', '.join(TYPES)}")
        with self.lock:
            if self.stanza != "ready":
                raise NotReady(self.message)
            if self.running is not None:
                raise Busy(self.running)
            backup_id = f"{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%S}-{kind}"
            record: dict[str, object] = {"id": backup_id, "type": kind, "status": "running", "started": now()}
            self.backups[backup_id] = record
            self.running = backup_id
            for old in list(self.backups)[:-KEEP]:
                del self.backups[old]
        threading.Thread(target=self._run, args=(record,), daemon=True).start()
        log("backup started", id=backup_id, type=kind)
        return dict(record)

    def _run(self, record: dict[str, object]) -> None:
        try:
            done = pgbackrest(f"--type={record['type']}", "backup")
            returncode, output = done.returncode, (done.stdout + done.stderr)[-OUTPUT_TAIL:]
        except OSError as exc:
            returncode, output = 127, str(exc)
        with self.lock:
            record.update(
                status="succeeded" if returncode == 0 else "failed",
                finished=now(),
                returncode=returncode,
                output=output,
            )
            self.running = None
        log("backup ended", id=record["id"], status=record["status"], returncode=returncode)

    def get(self, backup_id: str) -> dict[str, object] | None:
        with self.lock:
            record = self.backups.get(backup_id)
            return dict(record) if record is not None else None

    def health(self) -> dict[str, object]:
        with self.lock:
            return {"stanza": self.stanza, "running": self.running, "message": self.message}


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit {done.returncode}"


def handler_for(agent: Agent, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fitpipe-backup-agent"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
            pass  # each action is logged by the agent itself; probes would drown it

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization", "")
            if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return True
            self._send(401, {"detail": "a valid bearer token is required"})
            return False

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/healthz":
                self._send(200, agent.health())
                return
            if not self._authorized():
                return
            if self.path.startswith("/backups/"):
                record = agent.get(self.path.rsplit("/", 1)[-1])
                if record is None:
                    self._send(404, {"detail": "no such backup"})
                else:
                    self._send(200, record)
            elif self.path == "/info":
                info = pgbackrest("info", "--output=json", timeout=120)
                if info.returncode == 0:
                    self._send(200, json.loads(info.stdout or "[]"))
                else:
                    self._send(502, {"detail": _last_line(info)})
            else:
                self._send(404, {"detail": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorized():
                return
            if self.path.rstrip("/") != "/backups":
                self._send(404, {"detail": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                record = agent.start(str(request.get("type", "")))
            except (ValueError, AttributeError) as exc:
                self._send(400, {"detail": str(exc)})
            except Busy as exc:
                self._send(409, {"detail": "a backup is running", "running": str(exc)})
            except NotReady as exc:
                self._send(503, {"detail": f"the stanza is not ready: {exc}"})
            else:
                self._send(202, record)

    return Handler


def serve(port: int, token: str, retry_seconds: float = 10.0) -> None:
    agent = Agent(retry_seconds)
    stop = threading.Event()
    threading.Thread(target=agent.ensure_stanza, args=(stop,), daemon=True).start()
    server = ThreadingHTTPServer(("0.0.0.0", port), handler_for(agent, token))
    log("listening", port=port)
    try:
        server.serve_forever()
    finally:
        stop.set()


def _call(url: str, token: str, method: str = "GET", body: object = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def trigger(url: str, token: str, kind: str, poll_seconds: float = 15.0, wait_seconds: float = 3600.0) -> int:
    """Ask for a backup (waiting while another runs or the stanza is being created), then follow it."""
    url = url.rstrip("/")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            status, answer = _call(f"{url}/backups", token, "POST", {"type": kind})
        except OSError as exc:
            status, answer = 0, {"detail": str(exc)}
        if status == 202:
            break
        if status in (0, 409, 503) and time.monotonic() < deadline:
            log("waiting to start", type=kind, status=status, detail=answer.get("detail"))
            time.sleep(poll_seconds)
            continue
        log("could not start a backup", type=kind, status=status, detail=answer.get("detail"))
        return 2
    backup_id = str(answer["id"])
    log("backup running", id=backup_id, type=kind)
    while True:
        time.sleep(poll_seconds)
        try:
            status, record = _call(f"{url}/backups/{backup_id}", token)
        except OSError as exc:
            log("agent unreachable, retrying", error=str(exc))
            continue
        if status != 200:
            log("lost the backup (the agent restarted?)", id=backup_id, status=status)
            return 1
        if record.get("status") != "running":
            print(record.get("output", ""), flush=True)
            log("backup ended", id=backup_id, status=record.get("status"))
            return 0 if record.get("status") == "succeeded" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--port", type=int, default=8081)
    serving.add_argument("--retry-seconds", type=float, default=10.0)
    triggering = commands.add_parser("trigger")
    triggering.add_argument("--type", choices=TYPES, required=True)
    triggering.add_argument("--url", required=True)
    triggering.add_argument("--poll-seconds", type=float, default=15.0)
    triggering.add_argument("--wait-seconds", type=float, default=3600.0)
    args = parser.parse_args(argv)
    token = os.environ.get("FITPIPE_BACKUP_TOKEN", "")
    if not token:
        log("FITPIPE_BACKUP_TOKEN is not set")
        return 2
    if args.command == "serve":
        serve(args.port, token, args.retry_seconds)
        return 0
    return trigger(args.url, token, args.type, args.poll_seconds, args.wait_seconds)


if __name__ == "__main__":
    sys.exit(main())
