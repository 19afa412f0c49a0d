"""Generated passwords of the embedded database's login roles, kept in $FITPIPE_HOME/db-roles.json (mode 600).

`fitpipe migrate` creates the file the first time (32 random bytes per role) and sets each role's password
from it; the API and the ingest job read it to log in. The superuser's own password stays in db.json.
A role missing from an existing file (a newer fitpipe added one) is generated and added.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from fitpipe.dbroles.catalog import MANAGED_ROLES, DbRole
from fitpipe.errors import ConfigError

__all__ = ["ROLE_PASSWORDS_FILE", "role_passwords", "read_role_password"]

ROLE_PASSWORDS_FILE = "db-roles.json"


def _path(home: Path) -> Path:
    return home / ROLE_PASSWORDS_FILE


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the database role passwords in {path}: {exc}",
            hint="restore the file from a backup, or delete it and run `fitpipe migrate` to generate new ones",
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(
            f"{path} is not a JSON object of role names and passwords",
            hint="delete it and run `fitpipe migrate` to generate new ones",
        )
    return data


def role_passwords(home: Path) -> dict[DbRole, str]:
    """Every managed role's password, generating (and saving, mode 600) those not stored yet."""
    path = _path(home)
    stored = _read(path)
    missing = [role for role in MANAGED_ROLES if not stored.get(role.value)]
    if missing:
        for role in missing:
            stored[role.value] = secrets.token_urlsafe(32)
        home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # created with 600 from the start: the passwords are never readable by others, not even briefly
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(stored, out, indent=2)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return {role: stored[role.value] for role in MANAGED_ROLES}


def read_role_password(home: Path, role: DbRole) -> str:
    """One role's stored password, or ConfigError saying to run `fitpipe migrate` first."""
    password = _read(_path(home)).get(role.value)
    if not password:
        raise ConfigError(
            f"no password for database role {role} in {_path(home)}",
            hint="run `fitpipe migrate`: it creates the roles of the embedded database and their passwords",
        )
    return password
