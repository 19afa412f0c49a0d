"""The backups the operator renders, run for real (issue 14.4): the rendered pgbackrest.conf and wrapper,
the backup agent and the restore script, with pgBackRest and PostgreSQL from the machine in place of the
timescaledb-ha image. WAL archived by `archive_command`, a full and a differential backup asked through
the agent's API by its `trigger` command (what the CronJobs run), the data directory lost, a
point-in-time restore by the init container's script, and the data compared row by row.

Only the paths differ from the pod: the wrapper and pgBackRest take them from environment variables
(which override the configuration file), as the pod takes them from its mounts."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fitpipe_operator.children import backup
from fitpipe_operator.spec import checked_spec
from tests.operator.conftest import GOOGLE

pytestmark = pytest.mark.slow

TOKEN = "drill-token-" + "x" * 20
# The agent runs on the database image's python3, with the standard library only: here, the system's.
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
SPEC = {
    **GOOGLE,
    "backup": {
        "enabled": True,
        "repository": {"type": "pvc", "claimName": "trial-a-backups", "cipherSecretName": "backup-cipher"},
        "retention": {"full": 2, "differential": 2},
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Drill:
    root: Path
    bindir: Path
    env: dict[str, str]
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data" / "pgdata"

    @property
    def wrapper(self) -> str:
        return str(self.root / "conf" / "pgbackrest")

    def command(self, *args: str, extra: dict[str, str] | None = None) -> list[str]:
        env = [f"{k}={v}" for k, v in {**self.env, **(extra or {})}.items()]
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return [*prefix, "env", *env, *args]

    def run(
        self, *args: str, extra: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.command(*args, extra=extra), capture_output=True, text=True, timeout=600)
        if check and done.returncode != 0:
            raise AssertionError(
                f"{args[0]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def start(self, *options: str) -> None:
        settings = " ".join(
            [
                f"-c port={self.port}",
                "-c listen_addresses=''",
                f"-c unix_socket_directories={self.root / 'sock'}",
                *options,
            ]
        )
        self.run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "tmp" / "pg.log"),
            "-o",
            settings,
            "-w",
            "-t",
            "120",
            "start",
        )

    def stop(self) -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def sql(self, query: str) -> str:
        done = self.run(str(self.bindir / "psql"), "-X", "-A", "-t", "-h", str(self.root / "sock"), "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", query)  # fmt: skip
        return done.stdout.strip()


@pytest.fixture
def drill() -> Iterator[Drill]:
    pgbackrest = shutil.which("pgbackrest")
    if pgbackrest is None:
        pytest.skip("pgbackrest is not installed (Debian package pgbackrest; scripts/install-system-deps.sh)")
    from fitpipe.localdb.binaries import find_postgres

    try:
        pg = find_postgres()
    except Exception as exc:  # noqa: BLE001 - any reason the server binaries are missing
        pytest.skip(f"PostgreSQL server binaries not found: {exc}")
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="fitpipe-backup-drill-"))
    root.chmod(0o755)
    full = checked_spec("trial-a", SPEC)
    for folder in ("data", "repository", "sock", "conf", "agent", "tmp", "cipher"):
        (root / folder).mkdir()
    (root / "conf" / "pgbackrest.conf").write_text(backup.pgbackrest_conf("trial-a", "trial-a", full))
    (root / "conf" / "pgbackrest").write_text(backup.wrapper_script())
    (root / "agent" / "agent.py").write_text(backup.agent_source())
    (root / "agent" / "restore.sh").write_text(backup.restore_script())
    (root / "cipher" / "passphrase").write_text("a passphrase kept outside the cluster too")
    (root / "conf" / "pgbackrest").chmod(0o555)
    if as_postgres:
        entry = pwd.getpwnam("postgres")
        for path in [root, *root.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "FITPIPE_BACKUP_CONFIG_DIR": str(root / "conf"),
        "FITPIPE_BACKUP_CIPHER_DIR": str(root / "cipher"),
        # Where the pod has /home/postgres/pgdata/data, /var/run/postgresql, /backup, /tmp.
        "PGBACKREST_PG1_PATH": str(root / "data" / "pgdata"),
        "PGBACKREST_PG1_SOCKET_PATH": str(root / "sock"),
        "PGBACKREST_PG1_PORT": str(port),
        "PGBACKREST_PG1_USER": "postgres",
        "PGBACKREST_REPO1_PATH": str(root / "repository" / "fitpipe" / "trial-a" / "trial-a"),
        "PGBACKREST_LOCK_PATH": str(root / "tmp" / "lock"),
        "PGBACKREST_LOG_PATH": str(root / "tmp"),
    }
    made = Drill(root, pg.bindir, env, port, as_postgres)
    try:
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)


def archive_options(drill: Drill) -> list[str]:
    # The database container's arguments (children/backup.py), the wrapper at the drill's path.
    full = checked_spec("trial-a", SPEC)
    args = backup.database_parts("trial-a", full, "timescaledb", "data").args
    options = [args[i + 1] for i in range(1, len(args), 2)]
    assert options[1] == f"archive_command={backup.WRAPPER} archive-push %p"
    options[1] = f"archive_command={drill.wrapper} archive-push %p"
    options[2] = "archive_timeout=30"
    return [f'-c "{option}"' for option in options]


def call(url: str, method: str = "GET", body: object = None, token: str = TOKEN) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else None, method=method
    )
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def table_digest(drill: Drill) -> tuple[int, str]:
    rows = drill.sql("SELECT id, heart_rate, at FROM samples ORDER BY id")
    return len(rows.splitlines()), hashlib.sha256(rows.encode()).hexdigest()


def test_archive_backups_and_a_point_in_time_restore(drill: Drill) -> None:
    drill.run(str(drill.bindir / "initdb"), "-D", str(drill.data), "-U", "postgres", "--auth=trust")
    drill.start(*archive_options(drill))
    agent_port = free_port()
    agent_log = (drill.root / "tmp" / "agent.log").open("w")
    agent = subprocess.Popen(
        drill.command(PYTHON, str(drill.root / "agent" / "agent.py"), "serve", "--port", str(agent_port), "--retry-seconds", "1",
                      extra={"FITPIPE_BACKUP_TOKEN": TOKEN, "FITPIPE_PGBACKREST": drill.wrapper}),
        stdout=agent_log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{agent_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                    health = json.loads(response.read())
                if health["stanza"] == "ready":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                "no stanza: " + (drill.root / "tmp" / "agent.log").read_text()[-3000:]
            )
            time.sleep(0.5)
        assert "WAL archiving works" in health["message"]

        # The agent refuses strangers and nonsense.
        assert call(f"{url}/backups", "POST", {"type": "full"}, token="wrong")[0] == 401
        assert call(f"{url}/backups", "POST", {"type": "weekly"})[0] == 400

        def trigger(kind: str) -> subprocess.CompletedProcess[str]:
            return drill.run(
                PYTHON, str(drill.root / "agent" / "agent.py"), "trigger", "--type", kind, "--url", url, "--poll-seconds", "0.5",
                extra={"FITPIPE_BACKUP_TOKEN": TOKEN},
            )  # fmt: skip

        drill.sql(
            "CREATE TABLE samples (id bigint PRIMARY KEY, heart_rate int, at timestamptz DEFAULT clock_timestamp())"
        )
        drill.sql(
            "INSERT INTO samples (id, heart_rate) SELECT g, 60 + g % 40 FROM generate_series(1, 20000) g"
        )
        started = time.monotonic()
        full = trigger("full")
        full_seconds = time.monotonic() - started
        assert "backup ended" in full.stdout and '"succeeded"' in full.stdout
        drill.sql("INSERT INTO samples (id, heart_rate) SELECT g, 70 FROM generate_series(20001, 30000) g")
        trigger("diff")
        drill.sql("INSERT INTO samples (id, heart_rate) SELECT g, 80 FROM generate_series(30001, 35000) g")
        # The point to return to: after these rows, before the mistake below.
        time.sleep(1.1)
        target = drill.sql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
        )
        expected = table_digest(drill)
        time.sleep(1.1)
        drill.sql("DELETE FROM samples WHERE id % 2 = 0")  # the mistake
        drill.sql("SELECT pg_switch_wal()")
        drill.sql("CHECKPOINT")
        status, info = call(f"{url}/info")
        assert status == 200
        (stanza,) = info
        assert [b["type"] for b in stanza["backup"]] == ["full", "diff"]
        assert stanza["cipher"] == "aes-256-cbc"
        # Wait until the WAL holding the mistake (and so the target) is in the repository.
        deadline = time.monotonic() + 60
        while drill.sql(
            "SELECT last_failed_wal IS NULL AND last_archived_wal IS NOT NULL FROM pg_stat_archiver"
        ) != "t" or int(
            drill.sql("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")
        ):
            assert time.monotonic() < deadline, drill.sql("SELECT * FROM pg_stat_archiver")
            time.sleep(0.5)
    finally:
        agent.terminate()
        agent.wait(10)
        agent_log.close()

    # The volume is lost.
    drill.stop()
    shutil.rmtree(drill.data)

    restore_env = {
        "FITPIPE_RESTORE_ID": "drill-1",
        "FITPIPE_RESTORE_TARGET": target,
        "FITPIPE_PGBACKREST": drill.wrapper,
        "FITPIPE_RESTORE_MARKER_DIR": str(drill.root / "data"),
        "PGDATA": str(drill.data),
    }
    started = time.monotonic()
    restored = drill.run("/bin/sh", str(drill.root / "agent" / "restore.sh"), extra=restore_env)
    assert "restore drill-1: done" in restored.stdout
    # PostgreSQL starts, fetches WAL with the restore_command the script set, stops at the target, promotes.
    drill.start()
    deadline = time.monotonic() + 120
    while drill.sql("SELECT pg_is_in_recovery()") != "f":
        assert time.monotonic() < deadline, "recovery did not end"
        time.sleep(0.5)
    restore_seconds = time.monotonic() - started
    assert table_digest(drill) == expected
    assert drill.sql("SELECT count(*) FROM samples WHERE id % 2 = 0") == "17500"
    auto_conf = (drill.data / "postgresql.auto.conf").read_text()
    assert f"restore_command = '{drill.wrapper} archive-get %f \"%p\"'" in auto_conf

    # The marker makes a restarted pod's init container do nothing.
    again = drill.run("/bin/sh", str(drill.root / "agent" / "restore.sh"), extra=restore_env)
    assert "done before" in again.stdout
    print(f"\nfull backup {full_seconds:.1f} s, restore to the target {restore_seconds:.1f} s")


def test_the_agent_runs_one_backup_at_a_time_and_none_before_the_stanza(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fitpipe_operator import backup_agent

    release = threading.Event()
    calls: list[tuple[str, ...]] = []

    def slow(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        release.wait(10)
        return subprocess.CompletedProcess(list(args), 0, "backup command end: completed successfully", "")

    monkeypatch.setattr(backup_agent, "pgbackrest", slow)
    agent = backup_agent.Agent()
    with pytest.raises(backup_agent.NotReady):
        agent.start("full")
    agent.stanza = "ready"
    first = agent.start("full")
    with pytest.raises(backup_agent.Busy):
        agent.start("diff")
    release.set()
    deadline = time.monotonic() + 10
    while (agent.get(str(first["id"])) or {}).get("status") == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    finished = agent.get(str(first["id"]))
    assert finished is not None and finished["status"] == "succeeded"
    assert calls == [("--type=full", "backup")]
    agent.start("diff")  # free again
