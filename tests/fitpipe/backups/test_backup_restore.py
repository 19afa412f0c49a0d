"""A backup taken while the daily job loads data restores, into a fresh cluster, to exactly what was
committed when it began: samples, rollups, participants, tokens, audit and contacts compared row by row;
the login roles recreated by the migrate the restore runs; the API serving the restored data as fitpipe_api.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from fitpipe.cli import cli
from fitpipe.localdb.server import LocalDatabase
from fitpipe.participants import add_participant
from fitpipe.settings import Settings, reset_settings_cache
from fitpipe.tokens import create_token
from fitpipe_api.main import create_app

pytestmark = [pytest.mark.db, pytest.mark.slow]

CONCURRENT = 12  # participants the daily job loads while the backup is taken, one file (transaction) each


def _long_csv(path: Path, participant: str, day: datetime, seed: int) -> None:
    """One day of 1-second heart rate in the long CSV format."""
    rng = np.random.default_rng(seed)
    seconds = np.arange(86_400)
    stamps = (np.datetime64(day.replace(tzinfo=None), "s") + seconds).astype(str)
    values = np.round(65 + 10 * np.sin(seconds / 3600) + rng.normal(0, 2, seconds.size), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write("participant,metric,timestamp,value\n")
        out.writelines(f"{participant},heart_rate,{t}Z,{v}\n" for t, v in zip(stamps, values, strict=True))


@pytest.fixture
def fresh_cluster() -> Iterator[Path]:
    """A second embedded cluster, new: none of fitpipe's roles exist in it."""
    home = Path(tempfile.mkdtemp(prefix="fitpipe-restore-"))
    home.chmod(0o755)  # the postgres user runs the server when tests run as root
    local = LocalDatabase(home)
    local.start(install_extension=True)
    try:
        yield home
    finally:
        local.stop()
        shutil.rmtree(home, ignore_errors=True)


def _digest(url: str, query: str, params: tuple[object, ...] = ()) -> tuple[int, str]:
    """(rows, md5 of the rows' text in order): this test's own comparison, not the backup's digests."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        row = conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM ({query}) t",
            params,
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def test_a_backup_taken_during_ingest_restores_exactly_and_the_roles_come_back(
    fitpipe_env: Path,
    database_url: str,
    db: psycopg.Connection,
    fresh_cluster: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ---- what is there before: enrolment, tokens, audit rows, contacts, one participant's data --------------
    inbox = tmp_path / "inbox"
    day0 = datetime(2026, 3, 1)
    baseline, _ = add_participant(db, "B1", "trial", email="b1@example.org")
    _long_csv(tmp_path / "b1.csv", "B1", day0, seed=1)
    assert (
        CliRunner().invoke(cli, ["ingest", str(tmp_path / "b1.csv"), "-p", "B1", "-s", "trial"]).exit_code
        == 0
    )
    concurrent = {}
    for i in range(CONCURRENT):
        name = f"C{i:02d}"
        concurrent[add_participant(db, name, "trial")[0].id] = name
        _long_csv(inbox / "trial" / name / "hr.csv", name, day0 + timedelta(days=i % 4), seed=10 + i)
    _, admin_token = create_token(db, name="admin", role="admin", studies=[], all_studies=True)
    create_token(db, name="coordinator", role="coordinator", studies=["trial"])
    db.execute(
        "INSERT INTO audit_log (participant_id, action, detail) VALUES (%s, 'read_timeseries', '{\"m\": 1}')",
        (baseline.id,),
    )
    db.execute(
        "INSERT INTO contacts (participant_id, reason, status) VALUES (%s, 'low_wear', 'sent')",
        (baseline.id,),
    )

    # ---- the daily job loads the concurrent participants; the backup starts once the first file is in ------
    job = subprocess.Popen(
        [sys.executable, "-m", "fitpipe.cli", "run", "--study", "trial"],
        env=dict(os.environ, FITPIPE_INBOX=str(inbox)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def files_loaded() -> int:
        row = db.execute(
            "SELECT count(*) FROM ingest_files WHERE participant_id <> %s", (baseline.id,)
        ).fetchone()
        assert row is not None
        return int(row[0])

    try:
        deadline = time.monotonic() + 300
        while files_loaded() < 1:
            assert job.poll() is None, (
                f"the daily job ended before loading anything: {job.stderr.read() if job.stderr else ''}"
            )
            assert time.monotonic() < deadline, "the daily job loaded nothing in 5 minutes"
            time.sleep(0.05)
        backed_up = CliRunner().invoke(cli, ["db", "backup", "--to", str(tmp_path / "backups")])
    finally:
        _, err = job.communicate(timeout=900)
    assert backed_up.exit_code == 0, backed_up.output
    assert job.returncode == 0, err
    backup = Path(backed_up.output.strip().splitlines()[-1])
    assert backup.parent == tmp_path / "backups" and (backup / "manifest.json").exists()
    assert oct(backup.stat().st_mode & 0o777) == "0o700"

    # ---- restore into the fresh cluster (its own FITPIPE_HOME, no DATABASE_URL) ----------------------------
    for name in list(os.environ):
        if name.startswith(("DATABASE_URL", "FITPIPE_")) and not name.startswith("FITPIPE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FITPIPE_HOME", str(fresh_cluster))
    reset_settings_cache()
    restored = CliRunner().invoke(cli, ["db", "restore", "--from", str(backup)])
    assert restored.exit_code == 0, restored.output
    for role in ("fitpipe_owner", "fitpipe_api", "fitpipe_ingest"):
        assert f"migrate: created role {role}" in restored.output
    assert "each matching its digest" in restored.output
    target = LocalDatabase(fresh_cluster).url()

    # ---- the backup holds whole files, as committed when it began: some of the concurrent ones -----------
    with psycopg.connect(target) as conn:
        loaded = {r[0] for r in conn.execute("SELECT DISTINCT participant_id FROM ingest_files")}
        run_status = conn.execute("SELECT status FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone()
    caught = loaded & set(concurrent)
    assert 0 < len(caught) < CONCURRENT, (
        f"the backup should fall inside the run; it holds {len(caught)} of {CONCURRENT}"
    )
    assert run_status == ("running",)  # as the snapshot saw it; the next run marks it aborted
    ids = sorted(loaded | {baseline.id})
    for table, key in (
        ("samples", "participant_id"),
        ("rollup_1m", "participant_id"),
        ("rollup_1h", "participant_id"),
        ("rollup_1d", "participant_id"),
        ("ingest_cursors", "participant_id"),
    ):
        source = _digest(database_url, f"SELECT * FROM {table} WHERE {key} = ANY(%s)", (ids,))
        assert source[0] > 0, table
        assert _digest(target, f"SELECT * FROM {table}") == source, table
    for table in ("studies", "participants", "api_tokens", "api_token_studies", "audit_log", "contacts"):
        assert _digest(target, f"SELECT * FROM {table}") == _digest(database_url, f"SELECT * FROM {table}"), (
            table
        )

    # ---- the restored cluster serves: the API logs in as its own role, a token from before still works ----
    with TestClient(create_app(Settings(_env_file=None, fitpipe_home=fresh_cluster))) as client:
        ready = client.get("/readyz").json()
        listed = client.get(
            "/api/v1/participants?study=trial", headers={"Authorization": f"Bearer {admin_token}"}
        )
    assert (ready["status"], ready["database_login"]) == ("ready", "fitpipe_api")
    assert listed.status_code == 200
    again = CliRunner().invoke(cli, ["migrate"])
    assert "(nothing to do)" in again.output and "roles and grants: as declared" in again.output
