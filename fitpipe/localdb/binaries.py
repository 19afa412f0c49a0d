"""Finding the PostgreSQL server binaries and whether TimescaleDB is installed for them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fitpipe.errors import DatabaseError

__all__ = ["PgInstall", "find_postgres"]


@dataclass(frozen=True)
class PgInstall:
    bindir: Path
    major: int
    version: str

    def bin(self, name: str) -> str:
        return str(self.bindir / name)

    @property
    def sharedir(self) -> Path:
        pg_config = self.bindir / "pg_config"
        if pg_config.exists():
            out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, check=False)
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
        debian = Path(f"/usr/share/postgresql/{self.major}")
        return debian if debian.exists() else self.bindir.parent / "share"

    @property
    def pkglibdir(self) -> Path:
        debian = Path(f"/usr/lib/postgresql/{self.major}/lib")
        return debian if debian.exists() else self.bindir.parent / "lib"

    def timescaledb_version(self) -> str | None:
        """Default version of the installed TimescaleDB extension, or None when it is not installed."""
        control = self.sharedir / "extension" / "timescaledb.control"
        if not control.exists():
            return None
        match = re.search(r"default_version\s*=\s*'([^']+)'", control.read_text())
        if not match:
            return None
        version = match.group(1)
        if not (self.pkglibdir / f"timescaledb-{version}.so").exists():
            return None
        return version


def _version_of(bindir: Path) -> tuple[int, str] | None:
    postgres = bindir / "postgres"
    if not postgres.exists():
        return None
    out = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.(\d+))?", out.stdout)
    if not match:
        return None
    return int(match.group(1)), match.group(0)


def find_postgres() -> PgInstall:
    """The PostgreSQL to run: $FITPIPE_PG_BINDIR, else the newest Debian-layout install, else PATH."""
    candidates: list[Path] = []
    if os.environ.get("FITPIPE_PG_BINDIR"):
        candidates.append(Path(os.environ["FITPIPE_PG_BINDIR"]))
    debian_root = Path("/usr/lib/postgresql")
    if debian_root.exists():
        majors = sorted(
            (p for p in debian_root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True
        )
        candidates.extend(p / "bin" for p in majors)
    on_path = shutil.which("postgres") or shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        found = _version_of(bindir)
        if found and (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            major, version = found
            if major < 15:
                continue
            return PgInstall(bindir=bindir, major=major, version=version)
    raise DatabaseError(
        "no PostgreSQL server (>= 15) found: looked in $FITPIPE_PG_BINDIR, /usr/lib/postgresql/*/bin and PATH",
        hint="install it (Debian: apt-get install postgresql) or set DATABASE_URL to an existing database",
    )
