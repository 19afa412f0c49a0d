"""`fitpipe backfill`: pull a participant's Google Health history from a date (resumable), or pull the
intervals webhook notifications announced (`--notified`, for a job every few minutes)."""

from __future__ import annotations

from datetime import date

import click

from fitpipe.cli.ingest import print_summary, terminating_aborts
from fitpipe.cli.output import say
from fitpipe.db import database_url
from fitpipe.dbroles import INGEST
from fitpipe.errors import InputError
from fitpipe.google_health.datatypes import BY_NAME, DataType
from fitpipe.google_health.windows import Window
from fitpipe_ingest.pipeline import backfill as run_backfill

__all__ = ["backfill"]


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{value!r} is not a date", field=option, hint="use YYYY-MM-DD") from None


@click.command()
@click.option("--participant", "-p", help="The participant whose history to pull.")
@click.option("--study", "-s", help="The participant's study (needed when the id exists in several studies).")
@click.option("--since", help="First local day to pull (YYYY-MM-DD).")
@click.option(
    "--until", help="First local day NOT to pull (default and latest: today; today is the nightly sync's)."
)
@click.option(
    "--data-type",
    "data_types",
    multiple=True,
    type=click.Choice(sorted(BY_NAME)),
    help="Only this Google Health data type (repeatable; default: every type the grant allows).",
)
@click.option(
    "--notified", is_flag=True, help="Instead: pull what webhook notifications announced, for everyone."
)
def backfill(
    participant: str | None,
    study: str | None,
    since: str | None,
    until: str | None,
    data_types: tuple[str, ...],
    notified: bool,
) -> None:
    """Pull a participant's Google Health API history from --since, window by window.

    Resumable: run the same command again after an interruption and it continues where it stopped
    (each window is committed with the progress). The API's limits apply (300 requests a minute per
    participant). With --notified it pulls the intervals queued by the webhook receiver instead.
    """
    if notified:
        if participant or since:
            raise InputError(
                "--notified pulls for every participant; it takes neither --participant nor --since"
            )
    elif not participant or not since:
        raise InputError(
            "a backfill needs --participant and --since",
            hint="e.g. fitpipe backfill -p P01 --since 2026-09-01",
        )
    first, last = _day(since, "--since"), _day(until, "--until")

    def progress(who: str, data_type: DataType, window: Window, done: int, total: int) -> None:
        say(f"{who} {data_type.name}: {window.first_day}..{window.end_day} ({done}/{total})")

    with terminating_aborts():
        outcome = run_backfill(
            database_url(role=INGEST),
            participant=None if notified else participant,
            study=study,
            since=first,
            until=last,
            data_types=data_types,
            on_window=progress,
        )
    print_summary(outcome.summary)
    say(f"run {outcome.run_id} recorded (trigger backfill)")
    for o in outcome.live.outcomes:
        if o.status != "synced":
            say(f"{o.status.upper()} {o.name}: {o.message}")
    if outcome.failures:
        raise InputError(
            f"{outcome.failures} participant(s) not pulled completely (see above); run the same command again to resume"
        )
