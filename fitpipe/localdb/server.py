"""The embedded default database: a PostgreSQL cluster (with TimescaleDB when it can be had) that
fitpipe initialises, starts and stops itself under $FITPIPE_HOME/pgdata, on a free loopback port.

The port is chosen once and kept: a restart reuses it unless another program listens there, so clients
that were connected (a running API) find the database again where they left it.

Connection details live in $FITPIPE_HOME/db.json (mode 600): port, user, generated password.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import psycopg

from fitpipe.errors import DatabaseError
from fitpipe.localdb.binaries import PgInstall, find_postgres
from fitpipe.localdb.timescale import ensure_timescaledb

__all__ = ["LocalDatabase", "LocalStatus"]

SUPERUSER = "fitpipe"
DBNAME = "fitpipe"

# Sized for bulk loads on a small machine (2 cores, a few GB to spare); see docs/capacity.md.
BULK_LOAD_SETTINGS = {
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "min_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    "checkpoint_completion_target": "0.9",
    "wal_compression": "on",
    "wal_buffers": "64MB",
    "random_page_cost": "1.1",
    "effective_cache_size": "8GB",
    "jit": "off",
    "max_connections": "100",
    "log_min_duration_statement": "2000",
    "timescaledb.telemetry_level": "off",
    "timescaledb.max_background_workers": "4",
    "max_worker_processes": "16",
}


class _State(TypedDict, total=False):
    """$FITPIPE_HOME/db.json: the superuser's password, the port and preload of the last start."""

    password: str
    port: int
    preload: str | None


@dataclass
class LocalStatus:
    running: bool
    initialised: bool
    port: int | None
    timescaledb: str | None
    pg_version: str | None
    data_dir: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    """Whether PostgreSQL could listen on the port. It binds with SO_REUSEADDR, so the probe does too:
    without it the connections of the last run, closing (TIME_WAIT), would make the port look taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalDatabase:
    """One embedded cluster rooted at `home` (FITPIPE_HOME)."""

    def __init__(self, home: Path, say: Callable[[str], None] | None = None) -> None:
        self.home = home.resolve()
        self.data_dir = self.home / "pgdata"
        self.run_dir = self.home / "run"
        self.log_file = self.home / "log" / "postgresql.log"
        self.state_file = self.home / "db.json"
        self.say = say or (lambda msg: None)

    # ---- state ----------------------------------------------------------------------------
    def _state(self) -> _State:
        try:
            state: _State = json.loads(self.state_file.read_text())
            return state
        except FileNotFoundError:
            return {}

    def _save_state(self, state: _State) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    def url(self, dbname: str = DBNAME) -> str:
        state = self._state()
        if not state:
            raise DatabaseError(
                f"the embedded database in {self.home} has not been started",
                hint="run `fitpipe db start`, or set DATABASE_URL / DB_HOST to use an external database",
            )
        return f"postgresql://{SUPERUSER}:{state['password']}@127.0.0.1:{state['port']}/{dbname}"

    # ---- process helpers ----------------------------------------------------------------------
    @property
    def _as_postgres(self) -> bool:
        return os.geteuid() == 0

    def _pg_cmd(self, pg: PgInstall, *args: str) -> list[str]:
        cmd = [pg.bin(args[0]), *args[1:]]
        if self._as_postgres:
            return ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def _chown_for_postgres(self, *paths: Path) -> None:
        if not self._as_postgres:
            return
        entry = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_traversable(self) -> None:
        """PostgreSQL refuses to run as root, so when we are root the postgres user must reach $FITPIPE_HOME."""
        if not self._as_postgres:
            return
        for parent in [self.home, *self.home.parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise DatabaseError(
                    f"the postgres user cannot enter {parent} (mode {oct(mode & 0o777)}), "
                    f"so it cannot run a database under {self.home}",
                    hint="set FITPIPE_HOME to a directory under a world-searchable path (e.g. /var/tmp/fitpipe)",
                )

    def is_running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        return True

    # ---- lifecycle --------------------------------------------------------------------------------
    def start(self, *, install_extension: bool = True) -> LocalStatus:
        pg = find_postgres()
        self.home.mkdir(parents=True, exist_ok=True)
        self._check_traversable()
        timescale = (
            ensure_timescaledb(pg, self.home / "build" / "timescaledb", self.say)
            if install_extension
            else pg.timescaledb_version()
        )
        if timescale is None:
            self.say(
                "TimescaleDB is not available: starting plain PostgreSQL "
                "(samples and rollups are ordinary tables; everything works, large data is slower)"
            )
        state = self._state()
        if not (self.data_dir / "PG_VERSION").exists():
            state = self._initdb(pg)
        elif int((self.data_dir / "PG_VERSION").read_text().strip()) != pg.major:
            raise DatabaseError(
                f"{self.data_dir} was created by PostgreSQL {(self.data_dir / 'PG_VERSION').read_text().strip()}, "
                f"but the server found is {pg.major}",
                hint="point FITPIPE_PG_BINDIR at the matching server, or move the old FITPIPE_HOME away",
            )
        wanted_preload = "timescaledb" if timescale else ""
        if self.is_running():
            if state.get("preload") == wanted_preload:
                self.say(f"the embedded database is already running on port {state['port']}")
                return self.status()
            self.say("restarting the embedded database to load TimescaleDB")
            self.stop()
        port = state.get("port") or 0
        if not port or not _port_free(port):
            port = _free_port()
        self._write_conf(port, wanted_preload)
        state["port"], state["preload"] = port, wanted_preload
        self._save_state(state)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._chown_for_postgres(self.log_file.parent, self.log_file)
        proc = subprocess.run(
            self._pg_cmd(
                pg, "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start"
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join(self.log_file.read_text().splitlines()[-8:]) if self.log_file.exists() else ""
            raise DatabaseError(
                f"PostgreSQL did not start: {proc.stderr.strip() or proc.stdout.strip()}\n{tail}",
                hint=f"see {self.log_file}",
            )
        self._ensure_database()
        self.say(f"the embedded database is running on 127.0.0.1:{port} (data in {self.data_dir})")
        return self.status()

    def _initdb(self, pg: PgInstall) -> _State:
        self.say(f"initialising a PostgreSQL {pg.major} cluster in {self.data_dir}")
        password = secrets.token_urlsafe(24)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.home / ".pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._chown_for_postgres(self.data_dir, self.run_dir, pwfile)
        os.chmod(self.data_dir, 0o700)
        try:
            proc = subprocess.run(
                self._pg_cmd(
                    pg,
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ),  # fmt: skip
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise DatabaseError(f"initdb failed: {proc.stderr.strip()[-2000:]}")
        state: _State = {"password": password, "port": 0, "preload": None}
        self._save_state(state)
        return state

    def _write_conf(self, port: int, preload: str) -> None:
        settings = dict(BULK_LOAD_SETTINGS)
        settings.update(
            listen_addresses="127.0.0.1",
            port=str(port),
            unix_socket_directories=str(self.run_dir),
            shared_preload_libraries=preload,
        )
        if not preload:
            settings = {k: v for k, v in settings.items() if not k.startswith("timescaledb.")}
        body = "# Written by `fitpipe db start` on every start; edit postgresql.conf to override.\n"
        body += "".join(f"{k} = '{v}'\n" for k, v in settings.items())
        conf = self.data_dir / "fitpipe.conf"
        conf.write_text(body)
        self._chown_for_postgres(conf)
        main = self.data_dir / "postgresql.conf"
        text = main.read_text()
        # included first so that a user's own lines further down the main file still win
        if "include_if_exists = 'fitpipe.conf'" not in text:
            main.write_text("include_if_exists = 'fitpipe.conf'\n" + text)

    def _ensure_database(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DBNAME}"')

    def stop(self) -> bool:
        if not self.is_running():
            return False
        pg = find_postgres()
        proc = subprocess.run(
            self._pg_cmd(pg, "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DatabaseError(f"pg_ctl stop failed: {proc.stderr.strip()}", hint=f"see {self.log_file}")
        deadline = time.monotonic() + 30
        while self.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        return True

    def status(self) -> LocalStatus:
        state = self._state()
        initialised = (self.data_dir / "PG_VERSION").exists()
        running = self.is_running()
        timescale = pg_version = None
        if running:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
                    pg_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
                    row = conn.execute(
                        "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
                    ).fetchone()
                    preload = str(conn.execute("SHOW shared_preload_libraries").fetchone()[0])  # type: ignore[index]
                    timescale = row[0] if row and "timescaledb" in preload else None
            except psycopg.OperationalError:
                running = False
        port = state.get("port") or None
        return LocalStatus(running, initialised, port, timescale, pg_version, self.data_dir)
