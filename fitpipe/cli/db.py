"""`fitpipe db start|stop|status|url|compress|backup|restore` and `fitpipe migrate`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from fitpipe.cli.estimate import format_bytes, text_table
from fitpipe.cli.output import console, is_terminal, say
from fitpipe.db import connect, database_url, redact, role_passwords
from fitpipe.dbroles.catalog import DbRole
from fitpipe.errors import ConfigError
from fitpipe.localdb.server import LocalDatabase
from fitpipe.migrations import check_schema_current, migrate, schema_version
from fitpipe.settings import get_settings
from fitpipe.storage import (
    CompressedChunk,
    compress_old_chunks,
    compression_cutoff,
    detect_edition,
    read_sizes,
)

__all__ = ["db", "migrate_command"]


def _local() -> LocalDatabase:
    settings = get_settings()
    if settings.external_database_url():
        raise ConfigError(
            "DATABASE_URL or DB_HOST is set, so fitpipe uses that database, not the embedded one",
            hint="unset DATABASE_URL / DB_HOST to manage the embedded database",
        )
    return LocalDatabase(settings.home, say=say)


@click.group()
def db() -> None:
    """The embedded default database (PostgreSQL + TimescaleDB under FITPIPE_HOME)."""


@db.command()
@click.option("--no-install", is_flag=True, help="Do not try to install TimescaleDB when it is missing.")
def start(no_install: bool) -> None:
    """Initialise (first time) and start the embedded database; install TimescaleDB if needed."""
    status = _local().start(install_extension=not no_install)
    say(f"PostgreSQL {status.pg_version}, TimescaleDB {status.timescaledb or 'not available'}")


@db.command()
def stop() -> None:
    """Stop the embedded database (data is kept)."""
    say("stopped" if _local().stop() else "the embedded database was not running")


def _storage_lines(url: str) -> list[str]:
    """The edition and bytes on disk per table, as aligned text (empty when the schema is not migrated)."""
    with connect(url, autocommit=True) as conn:
        edition = detect_edition(conn)
        lines = [f"edition:        {edition.describe()}"]
        if schema_version(conn) < 8:
            return [*lines, "storage:        run `fitpipe migrate` to see the sizes"]
        sizes = read_sizes(conn)
    rows = []
    for t in sizes:
        ratio = t.compression_ratio
        rows.append(
            [
                t.table_name,
                f"{t.compressed_chunks}/{t.chunks}",
                format_bytes(t.uncompressed_bytes),
                format_bytes(t.compressed_bytes),
                format_bytes(t.before_compression_bytes) if t.compressed_chunks else "-",
                f"{ratio:.1f}x" if ratio else "-",
                format_bytes(t.total_bytes),
            ]
        )
    total = [
        "total",
        f"{sum(t.compressed_chunks for t in sizes)}/{sum(t.chunks for t in sizes)}",
        format_bytes(sum(t.uncompressed_bytes for t in sizes)),
        format_bytes(sum(t.compressed_bytes for t in sizes)),
        format_bytes(sum(t.before_compression_bytes for t in sizes)),
        "",
        format_bytes(sum(t.total_bytes for t in sizes)),
    ]
    headers = [
        "table",
        "compressed chunks",
        "uncompressed",
        "compressed",
        "before compression",
        "ratio",
        "on disk",
    ]
    lines.append("storage (bytes on disk; compressed = chunks compressed on the full edition):")
    lines += ["  " + line for line in text_table(headers, [*rows, total])]
    if not edition.compression and any(t.compressed_chunks for t in sizes):
        lines.append(
            "WARNING: compressed chunks exist but this server cannot read them (no TSL module): run the full "
            "edition, or decompress them there (decompress_chunk) before moving to the Apache edition"
        )
    return lines


@db.command()
def status() -> None:
    """Say which database fitpipe uses, whether it runs, its TimescaleDB edition, and the bytes on disk of
    samples and rollups (compressed and uncompressed chunks)."""
    settings = get_settings()
    external = settings.external_database_url()
    running = True
    if external:
        click.echo(f"database:       {redact(external)} (DATABASE_URL / DB_HOST)")
        url = external
    else:
        local = LocalDatabase(settings.home, say=say)
        st = local.status()
        click.echo(f"data directory: {st.data_dir}")
        click.echo(f"initialised:    {'yes' if st.initialised else 'no'}")
        click.echo(f"running:        {'yes' if st.running else 'no'}")
        running = st.running
        if st.running:
            click.echo(f"port:           {st.port}")
            click.echo(f"postgresql:     {st.pg_version}")
            click.echo(f"timescaledb:    {st.timescaledb or 'not loaded'}")
        url = local.url() if st.running else ""
    if not running:
        raise SystemExit(1)
    for line in _storage_lines(url):
        click.echo(line)


@db.command()
@click.option("--dry-run", is_flag=True, help="List the chunks that would be compressed; change nothing.")
@click.option(
    "--older-than-hours",
    type=click.FloatRange(min=0, min_open=True),
    help="Compress chunks whose range ended this long ago. Default: FITPIPE_COMPRESS_AFTER_HOURS (or the "
    "ingest lag plus 4 days, at least 168).",
)
def compress(dry_run: bool, older_than_hours: float | None) -> None:
    """Compress old chunks of samples and rollup_1m (full TimescaleDB edition; the daily run does this too).

    A chunk qualifies when its whole range is older than FITPIPE_COMPRESS_AFTER_HOURS (default: the ingest
    lag plus 4 days, at least 168 h); one that received late rows since it was compressed is compressed again.
    On the Apache edition and plain PostgreSQL there is nothing to compress and the command says so.
    """
    settings = get_settings()
    if older_than_hours is not None:
        settings = settings.model_copy(update={"fitpipe_compress_after_hours": older_than_hours})
    cutoff = compression_cutoff(settings, datetime.now(UTC))
    with connect(autocommit=True) as conn:
        check_schema_current(conn)

        def done(c: CompressedChunk, i: int, n: int) -> None:
            after = "" if c.bytes_after is None else f" -> {format_bytes(c.bytes_after)} in {c.seconds:.1f} s"
            say(
                f"{'would compress' if dry_run else 'compressed'} {i}/{n}: {c.hypertable} "
                f"{c.range_start:%Y-%m-%d %H:%M}..{c.range_end:%Y-%m-%d %H:%M} ({c.state}) "
                f"{format_bytes(c.bytes_before)}{after}"
            )

        report = compress_old_chunks(conn, cutoff, dry_run=dry_run, on_chunk=done)
    if report.skipped:
        say(f"nothing to compress: {report.skipped}")
        return
    if not report.chunks:
        say(f"nothing to compress: every chunk ending before {cutoff:%Y-%m-%d %H:%M} UTC is compressed")
        return
    if dry_run:
        say(f"{len(report.chunks)} chunk(s), {format_bytes(report.bytes_before)}, would be compressed")
    else:
        say(
            f"compressed {len(report.chunks)} chunk(s): {format_bytes(report.bytes_before)} -> "
            f"{format_bytes(report.bytes_after)}"
        )


@db.command()
@click.option("--redacted", is_flag=True, help="Hide the password.")
@click.option(
    "--role",
    type=click.Choice(["admin", *(r.value for r in DbRole)]),
    default="admin",
    show_default=True,
    help="Whose login: the administrator (superuser) or one of fitpipe's roles (e.g. psql as the API sees it).",
)
def url(redacted: bool, role: str) -> None:
    """Print the connection URL (of DATABASE_URL / DB_* when set, else of the embedded database)."""
    value = database_url(role=None if role == "admin" else DbRole(role))
    click.echo(redact(value) if redacted else value)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A bar on a terminal; a line every 10 % otherwise (logs of a CronJob)."""
    if is_terminal():
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=None)

            def update(what: str, done: int, total: int) -> None:
                bar.update(task, description=f"{label}: {what[-50:]}", completed=done, total=total or None)

            yield update
    else:
        last = [-1]

        def line(what: str, done: int, total: int) -> None:
            tenth = done * 10 // total if total else 0
            if tenth != last[0] or not what.startswith(("dumping", "restoring")):
                last[0] = tenth
                say(f"{label}: {what} ({done * 100 // total if total else 100} % of {total:,} bytes)")

        yield line


@db.command()
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the backup into (a new folder per backup). Default: FITPIPE_HOME/backups.",
)
@click.option(
    "--no-digests",
    is_flag=True,
    help="Skip the per-table digests (a second read of every row); the restore then checks only the archive.",
)
def backup(to: Path | None, no_digests: bool) -> None:
    """Back up the database (embedded, or DATABASE_URL) while it runs: a consistent pg_dump archive plus a
    manifest with a digest of every table. Restore it with `fitpipe db restore --from DIR`."""
    from fitpipe.backups import create_backup

    settings = get_settings()
    target = (to or settings.home / "backups").resolve()
    admin = database_url()
    say(f"backing up {redact(admin)} into {target}")
    with _progress("backup") as progress:
        result = create_backup(admin, target, digests=not no_digests, on_progress=progress)
    m = result.manifest
    for warning in result.warnings:
        say(f"pg_dump {warning}")
    rows = sum(t.rows for t in m.tables.values())
    say(
        f"backup of {m.database} as it was at {m.created_at}: {m.archive_bytes / 1e6:,.1f} MB in {m.seconds:.1f} s"
        + (f", {len(m.tables)} tables, {rows:,} rows with digests" if m.tables else "")
    )
    click.echo(str(result.path))


@db.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The backup directory `fitpipe db backup` printed.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Restore even though the database holds data; the current one is kept under another name.",
)
def restore(source: Path, replace: bool) -> None:
    """Restore a backup as the database (embedded, or DATABASE_URL), checked table by table against its
    manifest, then run `fitpipe migrate` (which recreates the login roles and grants)."""
    from fitpipe.backups import restore_backup

    admin = database_url()
    say(f"restoring {source} into {redact(admin)}")
    with _progress("restore") as progress:
        result = restore_backup(
            source, admin, replace=replace, passwords=role_passwords(), on_progress=progress
        )
    for warning in result.warnings:
        say(f"pg_restore {warning}")
    for line in result.role_changes:
        say(f"migrate: {line}")
    rows = sum(t.rows for t in result.manifest.tables.values())
    say(
        f"restored {result.database} as it was at {result.manifest.created_at}"
        + (
            f": {result.tables_verified} tables, {rows:,} rows, each matching its digest"
            if result.tables_verified
            else ""
        )
    )
    say("took " + ", ".join(f"{phase} {sec:.1f} s" for phase, sec in result.seconds.items()))
    if result.previous:
        say(
            f"the database that was there is kept as {result.previous}; drop it when satisfied: "
            f'psql "$(fitpipe db url)" -c \'DROP DATABASE "{result.previous}"\''
        )


@click.command("migrate")
def migrate_command() -> None:
    """Apply the schema migrations in sql/ and repair the database's login roles and grants.

    Idempotent; refuses a schema newer than this code. Needs the superuser's login (DATABASE_URL or
    DB_USER/DB_PASS; the embedded database's is used by default). Sets the role passwords from
    FITPIPE_OWNER_DB_PASSWORD / FITPIPE_API_DB_PASSWORD / FITPIPE_INGEST_DB_PASSWORD, or on the embedded
    database from FITPIPE_HOME/db-roles.json (generated the first time).
    """
    passwords = role_passwords()
    repaired: list[str] = []
    with connect(autocommit=True) as conn:
        applied = migrate(conn, passwords=passwords, on_change=repaired.append)
        version = schema_version(conn)
    for m in applied:
        say(f"applied {m.path.name}")
    say(f"schema is at version {version}" + ("" if applied else " (nothing to do)"))
    for line in repaired:
        say(f"roles: {line}")
    say("roles and grants: " + (f"{len(repaired)} repaired" if repaired else "as declared"))
