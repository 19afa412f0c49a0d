"""The `fitpipe` command: a thin layer over the library. Domain errors become a message and an exit code here."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from fitpipe import __version__
from fitpipe.errors import FitpipeError

__all__ = ["main", "cli"]

# command name -> "module:attribute"; imported only when the command runs, so `fitpipe --help` stays fast
COMMANDS = {
    "db": "fitpipe.cli.db:db",
    "migrate": "fitpipe.cli.db:migrate_command",
    "participants": "fitpipe.cli.participants:participants",
    "ingest": "fitpipe.cli.ingest:ingest",
    "run": "fitpipe.cli.ingest:run",
    "schedule": "fitpipe.cli.ingest:schedule",
    "runs": "fitpipe.cli.ingest:runs",
    "synth": "fitpipe.cli.synth:synth",
    "estimate": "fitpipe.cli.estimate:estimate",
    "extract": "fitpipe.cli.extract:extract",
    "demo": "fitpipe.cli.demo:demo",
    "serve": "fitpipe.cli.serve:serve",
    "token": "fitpipe.cli.token:token",
    "users": "fitpipe.cli.users:users",
    "operator": "fitpipe_operator.cli:operator",
    "monitoring": "fitpipe.cli.monitoring:monitoring",
    "backfill": "fitpipe.cli.backfill:backfill",
    "retention": "fitpipe.cli.retention:retention",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FitpipeError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="fitpipe")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """fitpipe: wearable data for clinical trials, loaded daily into TimescaleDB.

    Start with `fitpipe db start`, `fitpipe migrate`, then `fitpipe ingest` or `fitpipe run`.
    The database is the embedded one under FITPIPE_HOME unless DATABASE_URL or DB_HOST is set.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main() -> None:
    cli(prog_name="fitpipe")
