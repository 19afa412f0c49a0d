"""`fitpipe ingest`, `fitpipe run` (the daily job), `fitpipe schedule` and `fitpipe runs`: argument parsing and
output only; the use-cases are in fitpipe_ingest.pipeline."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fitpipe.cli.output import console, is_terminal, print_table, say
from fitpipe.db import connect, database_url
from fitpipe.dbroles import INGEST
from fitpipe.errors import InputError
from fitpipe.participants import check_timezone
from fitpipe.settings import get_settings
from fitpipe_ingest.counts import FileResult, IngestSummary
from fitpipe_ingest.pipeline import RunOutcome, ingest_input
from fitpipe_ingest.pipeline import daily_run as run_daily_job
from fitpipe_ingest.pipeline.files import FileCallback
from fitpipe_ingest.pipeline.runs import latest_runs
from fitpipe_ingest.sources.registry import SOURCE_MODULES

__all__ = ["ingest", "run", "schedule", "runs", "daily_run", "print_summary", "terminating_aborts"]


@contextmanager
def terminating_aborts() -> Iterator[None]:
    """SIGTERM (a CronJob stopped, `kill`) ends the command like Ctrl-C: the run is recorded as aborted at once."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _file_progress(label: str) -> Iterator[FileCallback]:
    """A progress bar on a terminal; one plain line per file otherwise (logs of the CronJob)."""
    if is_terminal():
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(label, total=None, rows=0)
            rows = 0

            def update(result: FileResult, done: int, total: int) -> None:
                nonlocal rows
                rows += result.read
                progress.update(
                    task, completed=done, total=total, rows=rows, description=f"{label} {result.file[-40:]}"
                )

            yield update
    else:

        def line(result: FileResult, done: int, total: int) -> None:
            say(
                f"[{done}/{total}] {result.status:9} {result.file} read={result.read} "
                f"quarantined={result.quarantined} {result.seconds:.2f}s"
                + (f" error={result.error}" if result.error else "")
            )

        yield line


def print_summary(summary: IngestSummary) -> None:
    by_metric = summary.by_metric()
    rows = [
        [metric, source, c.read, c.new, c.updated, c.present, c.duplicates, c.quarantined]
        for (metric, source), c in by_metric.items()
    ]
    total = summary.total()
    rows.append(
        [
            "total",
            "",
            total.read,
            total.new,
            total.updated,
            total.present,
            total.duplicates,
            total.quarantined,
        ]
    )
    print_table(
        f"Loaded in {summary.seconds:.1f} s",
        [
            "metric",
            "source",
            "read",
            "new",
            "updated",
            "already present",
            "duplicates in input",
            "quarantined",
        ],
        rows,
    )
    sleep_new = sum(f.sleep_new for f in summary.files)
    sleep_present = sum(f.sleep_present for f in summary.files)
    status_counts = {
        s: len(summary.with_status(s)) for s in ("loaded", "unchanged", "unknown", "skipped", "failed")
    }
    parse_rejected = sum(f.quarantined for f in summary.files) - total.quarantined
    say(
        f"files: {status_counts['loaded']} loaded, {status_counts['unchanged']} unchanged (skipped), "
        f"{status_counts['unknown']} not known (skipped), {status_counts['skipped']} not read, "
        f"{status_counts['failed']} failed; "
        f"sleep sessions: {sleep_new} new, {sleep_present} already present"
        + (f"; {parse_rejected} unreadable record(s) quarantined" if parse_rejected else "")
    )
    unknown = summary.with_status("unknown")
    for f in unknown[:12]:
        say(f"not known, skipped: {f.file} ({f.kind})")
    if len(unknown) > 12:
        say(f"not known, skipped: … and {len(unknown) - 12} more")
    for f in summary.with_status("skipped"):
        say(f"not read: {f.file}: {f.error}")
    for f in summary.with_status("loaded"):
        if f.note:
            say(f"nothing from {f.file}: {f.note}")
    for f in summary.failed:
        say(f"FAILED {f.file}: {f.error}")
    if total.read and total.new == 0 and total.updated == 0:
        say("nothing new: every sample was already stored (use --full to re-merge files loaded before)")


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--participant", "-p", help="Whose data this is (required unless the files name participants).")
@click.option("--study", "-s", help="The participant's study (needed when the id exists in several studies).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", *SOURCE_MODULES]),
    default="auto",
    show_default=True,
    help="Input format; auto detects it.",
)
@click.option(
    "--timezone", "-z", help="Time zone for local times when ingesting files that name their participants."
)
@click.option(
    "--full",
    is_flag=True,
    help="Re-read files loaded before and merge every row (e.g. after loading an older export).",
)
def ingest(
    path: Path, participant: str | None, study: str | None, fmt: str, timezone: str | None, full: bool
) -> None:
    """Load a directory, .zip or file of wearable data (wearipedia CSVs, Google Takeout, Fitabase, long CSV).

    Idempotent: loading the same input again adds nothing; a file that grew adds only its new samples.
    Exits non-zero when a file failed (the others are loaded) or when nothing at all was loaded.
    """
    zone = (
        ZoneInfo(check_timezone(timezone)) if timezone else ZoneInfo(get_settings().fitpipe_default_timezone)
    )
    with terminating_aborts(), _file_progress("loading") as on_file:
        outcome = ingest_input(
            database_url(role=INGEST),
            path,
            participant=participant,
            study=study,
            fmt=fmt,
            timezone=zone,
            full=full,
            on_file=on_file,
        )
    print_summary(outcome.summary)
    say(
        f'run {outcome.run_id} recorded; look at the data with: psql "$(fitpipe db url)" -c '
        f'"SELECT metric_name, count(*) FROM raw_data GROUP BY 1"'
    )
    if outcome.nothing_loaded:
        raise InputError(
            "nothing was loaded:\n  " + "\n  ".join(outcome.nothing_loaded),
            hint="check --participant and --format, and that this is the export's folder",
        )
    if outcome.summary.failed:
        raise InputError(
            f"{len(outcome.summary.failed)} file(s) could not be loaded (see FAILED lines above); nothing of them was stored"
        )


def daily_run(study: str | None = None, full: bool = False) -> int:
    """One pass of the daily job, printed; returns the number of failures (participants or files)."""
    settings = get_settings()
    use_inbox = settings.fitpipe_ingest_source in ("all", "inbox")
    use_live = settings.fitpipe_ingest_source in ("all", "googleHealthApi")
    say(
        f"daily run: {'inbox ' + str(settings.inbox) if use_inbox else 'no inbox'}"
        f"{', Google Health API' if use_live else ''}"
    )
    with terminating_aborts(), _file_progress("loading") as on_file:
        outcome = run_daily_job(
            database_url(role=INGEST),
            study=study,
            full=full,
            settings=settings,
            on_participant=lambda p, i, n: (
                say(f"participant {i}/{n}: {p.study}/{p.external_id}") if not is_terminal() else None
            ),
            on_file=on_file,
            on_outcome=lambda o, done, total: say(f"google health {done}/{total}: {o.name} {o.status}"),
            on_chunk=lambda c, i, n: say(f"compressed {i}/{n}: {c.hypertable} {c.range_start:%Y-%m-%d}"),
        )
    _print_daily(outcome)
    return outcome.failures


def _print_daily(outcome: RunOutcome) -> None:
    print_summary(outcome.summary)
    say(
        f"participants: {outcome.participants_total} active, {len(outcome.participants_without_data)} without data yet, "
        f"{len(outcome.participants_failed)} failed"
    )
    for name, message in outcome.participants_failed.items():
        say(f"FAILED participant {name}: {message}")
    live = outcome.live
    if live.outcomes or live.config_error:
        say(
            f"google health: {len(live.outcomes)} consented, {len(live.with_status('synced'))} synced, "
            f"{len(live.with_status('deferred'))} deferred to the next run, "
            f"{len(live.with_status('needs_reconsent'))} need re-consent"
        )
    for line in live.error_lines():
        say(f"FAILED {line}")
    say(f"run {outcome.run_id} recorded: {outcome.status}")
    _print_storage(outcome)


def _print_storage(outcome: RunOutcome) -> None:
    if outcome.storage_error is not None:
        say(f"FAILED storage step: {outcome.storage_error}")
    report = outcome.storage
    if report is None:
        return
    for r in report.retention:
        say(
            f"retention: study {r.study}: {r.participants} participant(s) erased, {r.chunks_dropped} chunk(s) dropped"
        )
    for folder in report.inboxes_removed:
        say(f"removed the inbox folder of an erased participant: {folder}")
    if report.compression.chunks:
        say(
            f"compressed {len(report.compression.chunks)} chunk(s) older than "
            f"{report.compression.older_than:%Y-%m-%d %H:%M}"
        )


@click.command()
@click.option("--study", "-s", help="Only this study.")
@click.option("--full", is_flag=True, help="Re-read files loaded before.")
def run(study: str | None, full: bool) -> None:
    """The daily job: load what is new in every active participant's inbox folder, then pull every
    participant with a Google Health grant (from each cursor minus the lag).

    Inbox: $FITPIPE_INBOX/<study>/<participant>/ (default FITPIPE_HOME/inbox). A participant that
    fails is reported and skipped; the exit code is non-zero when anything failed.
    """
    failures = daily_run(study, full)
    if failures:
        raise InputError(
            f"{failures} participant(s) or file(s) failed; the run is recorded as partial/failed"
        )


@click.command()
@click.option("--cron", default="0 1 * * *", show_default=True, help="Cron expression (server local time).")
@click.option("--study", "-s", help="Only this study.")
@click.option("--once-now", is_flag=True, help="Run once immediately, then follow the schedule.")
def schedule(cron: str, study: str | None, once_now: bool) -> None:
    """Run `fitpipe run` on a cron schedule in the foreground (the local twin of the Kubernetes CronJob)."""
    from croniter import croniter

    if not croniter.is_valid(cron):
        raise InputError(
            f"not a valid cron expression: {cron!r}", field="--cron", hint='e.g. "0 1 * * *" (01:00 daily)'
        )
    it = croniter(cron, datetime.now().astimezone())
    if once_now:
        daily_run(study)
    while True:
        due = it.get_next(datetime)
        say(f"next run at {due.isoformat(timespec='minutes')}")
        while (wait := (due - datetime.now().astimezone()).total_seconds()) > 0:
            time.sleep(min(wait, 60))
        try:
            daily_run(study)
        except Exception as exc:  # keep the scheduler alive; the run itself is recorded as failed
            say(f"run failed: {exc}")


@click.command()
@click.option("--limit", "-n", default=10, show_default=True)
def runs(limit: int) -> None:
    """Show the latest ingest runs."""
    with connect(autocommit=True) as conn:
        rows = latest_runs(conn, limit)
    now = datetime.now(UTC)
    print_table(
        None,
        [
            "run",
            "trigger",
            "status",
            "started",
            "took",
            "participants",
            "files",
            "read",
            "new",
            "quarantined",
            "error",
        ],
        [
            [
                r.id,
                r.trigger,
                r.status,
                f"{(now - r.started_at).total_seconds() / 3600:.1f} h ago",
                str(r.took).split(".")[0] if r.took else None,
                r.participants,
                r.files,
                r.rows_read,
                r.rows_new,
                r.rows_quarantined,
                r.error,
            ]
            for r in rows
        ],
    )
