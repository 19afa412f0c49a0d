"""Installing the TimescaleDB extension for the local PostgreSQL when it is missing.

Debian 13 packages it (postgresql-<v>-timescaledb). Debian 12 does not, so we fetch Debian 13's
source package with a private apt configuration (the system's sources stay untouched) and build
the Apache-licensed edition against postgresql-server-dev-<v>: about 30 s on two cores.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from fitpipe.errors import DatabaseError
from fitpipe.localdb.binaries import PgInstall

__all__ = ["ensure_timescaledb"]

log = logging.getLogger(__name__)

TRIXIE_SOURCES = "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n"


def _os_release() -> dict[str, str]:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k: v.strip('"') for k, v in pairs}


def _run(cmd: list[str], *, cwd: Path | None = None, log_file: Path) -> None:
    with log_file.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise DatabaseError(
            f"`{' '.join(cmd[:3])} …` failed with exit code {proc.returncode}",
            hint=f"see the full output in {log_file}",
        )


def _apt_install(packages: list[str], log_file: Path) -> None:
    env_prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
    _run(
        [*env_prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        log_file=log_file,
    )


def _can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def _build_from_trixie_source(
    pg: PgInstall, workdir: Path, log_file: Path, say: Callable[[str], None]
) -> None:
    apt_dir = workdir / "apt"
    (apt_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    sources = apt_dir / "sources.list"
    sources.write_text(TRIXIE_SOURCES)
    apt_opts = [
        "-o", f"Dir::Etc::sourcelist={sources}",
        "-o", "Dir::Etc::sourceparts=/dev/null",
        "-o", f"Dir::State::Lists={apt_dir / 'lists'}",
    ]  # fmt: skip
    say(f"installing build dependencies (postgresql-server-dev-{pg.major}, cmake, dpkg-dev)")
    _apt_install(
        [f"postgresql-server-dev-{pg.major}", "cmake", "dpkg-dev", "gcc", "make", "libssl-dev"], log_file
    )
    say("fetching Debian 13's timescaledb source package (private apt configuration)")
    _run(["apt-get", "-q", *apt_opts, "update"], log_file=log_file)
    src = workdir / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    _run(["apt-get", "-q", *apt_opts, "source", "--download-only", "timescaledb"], cwd=src, log_file=log_file)
    dscs = sorted(src.glob("timescaledb_*.dsc"))
    if not dscs:
        raise DatabaseError("apt-get source timescaledb produced no .dsc", hint=f"see {log_file}")
    _run(["dpkg-source", "-x", dscs[-1].name, "timescaledb"], cwd=src, log_file=log_file)
    tree = src / "timescaledb"
    say("building TimescaleDB (Apache edition; about 30 s)")
    pg_config = Path(f"/usr/lib/postgresql/{pg.major}/bin/pg_config")
    _run(
        [
            "./bootstrap",
            "-DAPACHE_ONLY=1",
            "-DREGRESS_CHECKS=OFF",
            "-DWARNINGS_AS_ERRORS=OFF",
            "-DTAP_CHECKS=OFF",
            f"-DPG_CONFIG={pg_config}",
        ],
        cwd=tree,
        log_file=log_file,
    )
    _run(["make", "-C", "build", f"-j{os.cpu_count() or 2}", "install"], cwd=tree, log_file=log_file)


def ensure_timescaledb(pg: PgInstall, workdir: Path, say: Callable[[str], None]) -> str | None:
    """Return the installed TimescaleDB version, installing it first when possible; None if it cannot be had."""
    version = pg.timescaledb_version()
    if version:
        return version
    if os.environ.get("FITPIPE_NO_TIMESCALEDB_INSTALL"):
        say("TimescaleDB is not installed and FITPIPE_NO_TIMESCALEDB_INSTALL is set: not installing it")
        return None
    if not _can_install():
        say("TimescaleDB is not installed and installing it needs root and apt-get: continuing without it")
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    log_file = workdir / "install.log"
    release = _os_release()
    try:
        if release.get("ID") == "debian" and int(release.get("VERSION_ID", "0").split(".")[0] or 0) >= 13:
            say(f"installing postgresql-{pg.major}-timescaledb from Debian")
            _apt_install([f"postgresql-{pg.major}-timescaledb"], log_file)
        else:
            _build_from_trixie_source(pg, workdir, log_file, say)
    except DatabaseError as exc:
        say(f"could not install TimescaleDB ({exc.message}; {exc.hint}): continuing with plain PostgreSQL")
        return None
    return pg.timescaledb_version()
