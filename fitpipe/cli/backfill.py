"""`fitpipe backfill`: pull a participant's Google Health history from a date (resumable), or pull the
intervals webhook notifications announced (`--notified`, for a job every few minutes)."""

from __future__ import annotations

import time
from datetime import date

import click

from fitpipe.cli.ingest import print_summary
from fitpipe.cli.output import say
from fitpipe.db import connect, database_url
from fitpipe.dbroles import INGEST
from fitpipe.errors import FitpipeError, InputError
from fitpipe.migrations import check_schema_current
from fitpipe.participants import get_participant
from fitpipe.settings import get_settings
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.backfill import backfill as run_backfill
from fitpipe_ingest.google_health.backfill import pull_notified
from fitpipe_ingest.google_health.datatypes import BY_NAME, DataType
from fitpipe_ingest.google_health.run import SyncOptions, SyncReport
from fitpipe_ingest.google_health.windows import Window
from fitpipe_ingest.runs import RunRecorder

__all__ = ["backfill"]


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{value!r} is not a date", field=option, hint="use YYYY-MM-DD") from None


def _finish(recorder: RunRecorder, summary: IngestSummary, report: SyncReport) -> int:
    errors = report.error_lines() + [
        f"participant {o.name}: needs re-consent: {o.message}" for o in report.with_status("needs_reconsent")
    ]
    failed = len(errors)
    recorder.finish(
        summary,
        "success" if not failed else ("partial" if report.with_status("synced") else "failed"),
        "\n".join(errors) or None,
    )
    return failed


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
    settings = get_settings()
    url = database_url(role=INGEST)
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
    with connect(url, autocommit=True) as conn:
        check_schema_current(conn)
        who = get_participant(conn, participant, study) if participant else None
    started = time.perf_counter()
    with RunRecorder(url, "backfill") as recorder:
        summary = IngestSummary()
        options = SyncOptions(
            lag=settings.ingest_lag,
            run_id=recorder.id,
            data_types=data_types or None,
            chunk_rows=settings.fitpipe_chunk_rows,
        )
        try:
            if who is None:
                report = pull_notified(url, summary=summary, options=options, study=study)
            else:
                assert first is not None

                def progress(data_type: DataType, window: Window, done: int, total: int) -> None:
                    say(
                        f"{who.external_id} {data_type.name}: {window.first_day}..{window.end_day} ({done}/{total})"
                    )
                    recorder.progress(summary)

                report = run_backfill(
                    url, who, since=first, until=last, summary=summary, options=options, on_window=progress
                )
        except BaseException as exc:
            recorder.finish(
                summary,
                "aborted" if isinstance(exc, KeyboardInterrupt) else "failed",
                exc.message if isinstance(exc, FitpipeError) else type(exc).__name__,
            )
            raise
        summary.seconds = time.perf_counter() - started
        failed = _finish(recorder, summary, report)
    print_summary(summary)
    say(f"run {recorder.id} recorded (trigger backfill)")
    for outcome in report.outcomes:
        if outcome.status != "synced":
            say(f"{outcome.status.upper()} {outcome.name}: {outcome.message}")
    if failed:
        raise InputError(
            f"{failed} participant(s) not pulled completely (see above); run the same command again to resume"
        )
