"""The embedded database's generated role passwords: private, stable, completed when a role is new."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from fitpipe.dbroles.catalog import API, INGEST, MANAGED_ROLES, OWNER
from fitpipe.errors import ConfigError
from fitpipe.localdb.credentials import ROLE_PASSWORDS_FILE, read_role_password, role_passwords


def test_passwords_are_generated_once_into_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    first = role_passwords(tmp_path)
    path = tmp_path / ROLE_PASSWORDS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first) == set(MANAGED_ROLES)
    assert len(set(first.values())) == 3 and all(len(p) >= 40 for p in first.values())
    assert role_passwords(tmp_path) == first
    assert read_role_password(tmp_path, API) == first[API]


def test_a_role_missing_from_the_file_is_added_and_the_others_kept(tmp_path: Path) -> None:
    (tmp_path / ROLE_PASSWORDS_FILE).write_text(json.dumps({"fitpipe_api": "kept"}))
    passwords = role_passwords(tmp_path)
    assert passwords[API] == "kept"
    assert passwords[OWNER] and passwords[INGEST]
    assert json.loads((tmp_path / ROLE_PASSWORDS_FILE).read_text())["fitpipe_ingest"] == passwords[INGEST]


def test_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ROLE_PASSWORDS_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read the database role passwords") as raised:
        role_passwords(tmp_path)
    assert "run `fitpipe migrate`" in (raised.value.hint or "")


def test_reading_before_migrate_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no password for database role fitpipe_ingest") as raised:
        read_role_password(tmp_path, INGEST)
    assert raised.value.hint is not None and "fitpipe migrate" in raised.value.hint
