"""`fitpipe db start|stop|status|url` and `fitpipe migrate`."""

from __future__ import annotations

import click

from fitpipe.cli.output import say
from fitpipe.db import connect, database_url, redact, role_passwords
from fitpipe.errors import ConfigError
from fitpipe.localdb.server import LocalDatabase
from fitpipe.migrations import migrate, schema_version
from fitpipe.settings import get_settings

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


@db.command()
def status() -> None:
    """Say whether the embedded database runs, where, and with which versions."""
    st = _local().status()
    click.echo(f"data directory: {st.data_dir}")
    click.echo(f"initialised:    {'yes' if st.initialised else 'no'}")
    click.echo(f"running:        {'yes' if st.running else 'no'}")
    if st.running:
        click.echo(f"port:           {st.port}")
        click.echo(f"postgresql:     {st.pg_version}")
        click.echo(f"timescaledb:    {st.timescaledb or 'not loaded'}")
    if not st.running:
        raise SystemExit(1)


@db.command()
@click.option("--redacted", is_flag=True, help="Hide the password.")
def url(redacted: bool) -> None:
    """Print the connection URL (of DATABASE_URL / DB_* when set, else of the embedded database)."""
    value = database_url()
    click.echo(redact(value) if redacted else value)


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
