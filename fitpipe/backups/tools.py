"""Running pg_dump / pg_restore: the binaries that match the server, the password kept out of the command line,
and their --verbose lines turned into progress.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from fitpipe.errors import DatabaseError

__all__ = ["run_with_progress", "dbname_of", "with_dbname", "client_binary"]

# `pg_dump: dumping contents of table "public.samples"` / `pg_restore: processing data for table "…"`
_TABLE_LINE = re.compile(r'(?:dumping contents of|processing data for) table "(?P<name>.+)"$')
# pg_dump warns about TimescaleDB's catalog, which pg_restore puts back in order; nothing to act on
_KNOWN_NOISE = re.compile(
    r"circular foreign-key constraints|consider using a full dump|possible solution|^\s*$"
)


def client_binary(name: str) -> str:
    """pg_dump/pg_restore: $FITPIPE_PG_BINDIR, else the newest Debian-layout install, else PATH.

    Only the client is needed (Debian: postgresql-client-<major>), of the server's major version or newer.
    """
    candidates = []
    if os.environ.get("FITPIPE_PG_BINDIR"):
        candidates.append(Path(os.environ["FITPIPE_PG_BINDIR"]))
    debian = Path("/usr/lib/postgresql")
    if debian.exists():
        majors = [p for p in debian.iterdir() if p.name.isdigit()]
        candidates.extend(p / "bin" for p in sorted(majors, key=lambda p: int(p.name), reverse=True))
    for bindir in candidates:
        if (bindir / name).exists():
            return str(bindir / name)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise DatabaseError(
        f"{name} not found: looked in $FITPIPE_PG_BINDIR, /usr/lib/postgresql/*/bin and PATH",
        hint="install the PostgreSQL client of the server's major version (Debian: apt-get install postgresql-client)",
    )


def dbname_of(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or conninfo_to_dict(url).get("user") or "postgres")


def with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """(conninfo without the password, environment that carries it): `ps` never shows a password."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env


def run_with_progress(
    tool: str,
    args: Iterable[str],
    url: str,
    on_table: Callable[[str], None],
    *,
    what: str,
) -> list[str]:
    """Run pg_dump/pg_restore against `url` (passed as --dbname); call on_table for each table it starts.

    Returns the warnings it printed; raises DatabaseError with its last lines when it fails.
    """
    conninfo, env = _without_password(url)
    cmd = [client_binary(tool), *args, "--verbose", "--no-password", f"--dbname={conninfo}"]
    tail: deque[str] = deque(maxlen=12)
    warnings: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.rstrip("\n")
            body = line.split(": ", 1)[1] if line.startswith(f"{tool}: ") else line
            match = _TABLE_LINE.search(body)
            if match:
                on_table(match.group("name"))
                continue
            if body.startswith(("warning:", "error:")) or "ERROR" in body:
                tail.append(body)
                if body.startswith("warning:") and not _KNOWN_NOISE.search(body):
                    warnings.append(body)
            elif not _KNOWN_NOISE.search(body) and not _is_chatter(body):
                tail.append(body)
        code = proc.wait()
    if code != 0:
        detail = "\n  ".join(tail) or f"exit code {code}"
        raise DatabaseError(f"{tool} failed while {what}:\n  {detail}", hint=_hint_for("\n".join(tail)))
    return warnings


def _is_chatter(body: str) -> bool:
    # --verbose narrates every object; only table data matters for progress
    return bool(
        re.match(
            r"(last built-in OID|reading |identifying |finding |flagging |saving |dumping |creating |processing |"
            r"setting |connecting |implied data-only|executing |launching |finished |entering |ownership|"
            r"disabling |enabling |restoring |reducing |committing |moving )",
            body,
        )
    )


def _hint_for(text: str) -> str:
    if "server version mismatch" in text or "aborting because of server version mismatch" in text:
        return (
            "install the PostgreSQL client of the server's major version (or newer) and set FITPIPE_PG_BINDIR"
        )
    if "No space left on device" in text:
        return "free disk space where the backup is written, or pass --to another directory"
    if "could not obtain lock" in text or "canceling statement due to lock timeout" in text:
        return "a schema change holds a table (is `fitpipe migrate` running?); try again when it finished"
    if "password authentication failed" in text or "no password supplied" in text:
        return "check DATABASE_URL / DB_PASS: backups and restores use the administrator's login"
    return "see the lines above; the database is unchanged"


def remove_tree(path: Path) -> None:
    """Best-effort removal of a partial backup directory."""
    if not path.exists():
        return
    for child in sorted(path.rglob("*"), reverse=True):
        child.unlink() if child.is_file() or child.is_symlink() else child.rmdir()
    path.rmdir()
