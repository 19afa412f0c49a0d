"""`fitpipe retention show|set|apply`: keep a study's data for a number of days after it ends, then erase it."""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime

import click

from fitpipe.cli.output import print_table, say
from fitpipe.db import connect
from fitpipe.migrations import check_schema_current
from fitpipe.storage import apply_retention, list_retention, set_retention

__all__ = ["retention"]


@click.group()
def retention() -> None:
    """Per-study retention: erase a study's participants a number of days after the study ends."""


@retention.command("show")
def show() -> None:
    """List studies with their end, retention and the day their data will be erased."""
    with connect(autocommit=True) as conn:
        check_schema_current(conn)
        rows = list_retention(conn)
    print_table(
        None,
        ["study", "ends on", "retention days", "erased after", "participants"],
        [[r.study, r.ends_on, r.retention_days, r.erase_after, r.participants] for r in rows],
    )


@retention.command("set")
@click.argument("study")
@click.option("--ends-on", type=click.DateTime(["%Y-%m-%d"]), help="Last day of the study (YYYY-MM-DD).")
@click.option("--keep-days", type=click.IntRange(min=0), help="Days the data is kept after the study ends.")
@click.option(
    "--clear", is_flag=True, help="Remove the end and the retention (keep the data until erased by hand)."
)
def set_command(study: str, ends_on: datetime | None, keep_days: int | None, clear: bool) -> None:
    """Set when STUDY ends and how many days its data is kept after that.

    Once the last kept day has passed, the daily run (or `fitpipe retention apply`) erases every participant
    of the study, as `fitpipe participants erase` does, and records each erasure in the audit log.
    """
    if not clear and (ends_on is None or keep_days is None):
        raise click.UsageError("give --ends-on and --keep-days (or --clear)")
    with connect(autocommit=True) as conn:
        check_schema_current(conn)
        r = set_retention(
            conn,
            study,
            ends_on=None if clear else ends_on.date(),  # type: ignore[union-attr]
            retention_days=None if clear else keep_days,
        )
    if r.erase_after is None:
        say(f"study {study}: no retention; data is kept until erased by hand")
    else:
        say(
            f"study {study} ends on {r.ends_on}; its data is erased after {r.erase_after} ({r.participants} participant(s))"
        )


@retention.command("apply")
@click.option("--yes", is_flag=True, help="Erase for real. Without it: list what is due.")
@click.option(
    "--today", type=click.DateTime(["%Y-%m-%d"]), help="Apply as of this day (default: today, UTC)."
)
def apply(yes: bool, today: datetime | None) -> None:
    """Erase the participants of every study whose retention has ended (the daily run does this too)."""
    on_day: date = today.date() if today else datetime.now(UTC).date()
    with connect(autocommit=True) as conn:
        check_schema_current(conn)
        results = apply_retention(
            conn, on_day, actor={"via": "cli", "os_user": getpass.getuser()}, dry_run=not yes
        )
    if not results:
        say(f"no study's retention has ended by {on_day}")
        return
    print_table(
        None,
        ["study", "participants" + ("" if yes else " due"), "chunks dropped"],
        [[r.study, r.participants, r.chunks_dropped if yes else "-"] for r in results],
    )
    if not yes:
        say("nothing was erased; add --yes to erase them (it cannot be undone)")
