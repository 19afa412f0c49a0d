"""`fitpipe db start|stop|status|url|compress` and `fitpipe migrate`."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from fitpipe.cli.estimate import format_bytes, text_table
from fitpipe.cli.output import say
from fitpipe.db import connect, database_url, redact
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
def url(redacted: bool) -> None:
    """Print the connection URL (of DATABASE_URL / DB_* when set, else of the embedded database)."""
    value = database_url()
    click.echo(redact(value) if redacted else value)


@click.command("migrate")
def migrate_command() -> None:
    """Apply the schema migrations in sql/ (idempotent; refuses a schema newer than this code)."""
    with connect(autocommit=True) as conn:
        applied = migrate(conn)
        version = schema_version(conn)
    for m in applied:
        say(f"applied {m.path.name}")
    say(f"schema is at version {version}" + ("" if applied else " (nothing to do)"))
