"""A restore refuses clearly, and leaves every database as it was, when the backup or the target is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from fitpipe.cli import cli
from fitpipe.participants import add_participant
from fitpipe.settings import reset_settings_cache

pytestmark = pytest.mark.db


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def backup(fitpipe_env: Path, db: psycopg.Connection, tmp_path: Path) -> Path:
    add_participant(db, "P1", "s1")
    db.execute(
        "INSERT INTO samples (ts, value, participant_id, metric_id) "
        "SELECT '2026-01-01'::timestamptz + i * interval '1 second', 60 + i % 7, 1, 1 FROM generate_series(0, 999) i"
    )
    code, out = run("db", "backup", "--to", str(tmp_path / "backups"))
    assert code == 0, out
    return Path(out.strip().splitlines()[-1])


@pytest.fixture
def other_database(database_url: str, pg_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DATABASE_URL points at a database that does not exist yet, on the same server (same roles)."""
    name = f"{conninfo_to_dict(database_url)['dbname']}_r"
    monkeypatch.setenv("DATABASE_URL", make_conninfo(database_url, dbname=name))
    reset_settings_cache()
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for (leftover,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",)
        ).fetchall():
            conn.execute(f'DROP DATABASE "{leftover}" WITH (FORCE)')


def _databases(pg_server_url: str, prefix: str) -> list[str]:
    with psycopg.connect(pg_server_url) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1", (prefix + "%",)
            )
        ]


def test_restore_into_a_new_database_on_the_same_server(
    backup: Path, other_database: str, pg_server_url: str
) -> None:
    code, out = run("db", "restore", "--from", str(backup))
    assert code == 0, out
    assert "restored " + other_database in out and "each matching its digest" in out
    assert _databases(pg_server_url, other_database) == [other_database]


def test_a_database_with_data_is_replaced_only_when_asked_and_then_kept_aside(
    backup: Path, other_database: str, pg_server_url: str
) -> None:
    assert run("db", "restore", "--from", str(backup))[0] == 0
    code, out = run("db", "restore", "--from", str(backup))
    assert code == 5
    assert f"database {other_database} already holds a fitpipe schema" in out
    assert "hint: pass --replace" in out
    code, out = run("db", "restore", "--from", str(backup), "--replace")
    assert code == 0, out
    kept = [d for d in _databases(pg_server_url, other_database) if d != other_database]
    assert len(kept) == 1 and kept[0].startswith(f"{other_database}_before_restore_")
    assert f"kept as {kept[0]}" in out


def test_a_truncated_archive_is_refused_before_anything_is_created(
    backup: Path, other_database: str, pg_server_url: str
) -> None:
    archive = backup / "database.dump"
    archive.write_bytes(archive.read_bytes()[:-100])
    code, out = run("db", "restore", "--from", str(backup))
    assert code == 6
    assert "is not the archive the backup wrote" in out and "truncated or changed" in out
    assert _databases(pg_server_url, other_database) == []


def test_a_digest_that_does_not_match_stops_before_the_swap(
    backup: Path, other_database: str, pg_server_url: str
) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["tables"]["samples"]["rows"] += 1
    (backup / "manifest.json").write_text(json.dumps(manifest))
    code, out = run("db", "restore", "--from", str(backup))
    assert code == 3
    assert "differs from what the backup recorded" in out
    assert "samples: 1000 rows" in out and "the backup recorded 1001" in out
    assert _databases(pg_server_url, other_database) == []  # the staging database is gone, nothing swapped


def test_a_timescaledb_version_the_server_lacks_is_named(
    backup: Path, other_database: str, timescaledb_loaded: bool
) -> None:
    if not timescaledb_loaded:
        pytest.skip("the test server runs without TimescaleDB")
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["timescaledb"] = "1.0.0"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    code, out = run("db", "restore", "--from", str(backup))
    assert code == 3
    assert "made with TimescaleDB 1.0.0, which this server does not have installed" in out


def test_a_directory_that_is_no_backup(fitpipe_env: Path, tmp_path: Path) -> None:
    code, out = run("db", "restore", "--from", str(tmp_path))
    assert code == 6
    assert "is not a fitpipe backup: it has no manifest.json" in out
