"""`fitpipe ingest`, `fitpipe run` (the daily job), `fitpipe schedule` and `fitpipe runs`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import psycopg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fitpipe.cli.output import console, is_terminal, print_table, say
from fitpipe.db import connect, database_url
from fitpipe.dbroles import INGEST
from fitpipe.errors import FitpipeError, InputError
from fitpipe.migrations import check_schema_current
from fitpipe.participants import check_timezone, get_participant
from fitpipe.settings import get_settings
from fitpipe.storage import maintain_storage
from fitpipe_ingest.counts import FileResult, IngestSummary
from fitpipe_ingest.daily import DailyResult, run_inbox
from fitpipe_ingest.google_health.run import Outcome, SyncOptions
from fitpipe_ingest.google_health.sync import SyncReport, sync_google_health
from fitpipe_ingest.ingest import FileCallback, ingest_path
from fitpipe_ingest.load import LoadOptions
from fitpipe_ingest.runs import RunRecorder
from fitpipe_ingest.sources.registry import SOURCE_MODULES

__all__ = ["ingest", "run", "schedule", "runs"]


def _options_for(run_id: int, full: bool) -> Callable[[str], LoadOptions]:
    settings = get_settings()
    return lambda source: LoadOptions(
        source=source,
        lag=settings.ingest_lag,
        full=full,
        run_id=run_id,
        chunk_rows=settings.fitpipe_chunk_rows,
    )


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
        s: sum(1 for f in summary.files if f.status == s)
        for s in ("loaded", "unchanged", "unknown", "failed")
    }
    parse_rejected = sum(f.quarantined for f in summary.files) - total.quarantined
    say(
        f"files: {status_counts['loaded']} loaded, {status_counts['unchanged']} unchanged (skipped), "
        f"{status_counts['unknown']} not known (skipped), {status_counts['failed']} failed; "
        f"sleep sessions: {sleep_new} new, {sleep_present} already present"
        + (f"; {parse_rejected} unreadable record(s) quarantined" if parse_rejected else "")
    )
    unknown = [f.file for f in summary.files if f.status == "unknown"]
    if unknown:
        say(
            "not known, skipped: "
            + ", ".join(unknown[:12])
            + (f" … and {len(unknown) - 12} more" if len(unknown) > 12 else "")
        )
    for f in summary.failed:
        say(f"FAILED {f.file}: {f.error}")
    if total.read and total.new == 0 and total.updated == 0:
        say("nothing new: every sample was already stored (use --full to re-merge files loaded before)")


def _status_of(summary: IngestSummary, failures: int) -> str:
    if failures == 0:
        return "success"
    loaded = sum(1 for f in summary.files if f.status in ("loaded", "unchanged"))
    return "partial" if loaded else "failed"


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
    """Load a directory, .zip or file of wearable data (wearipedia CSVs, Google Takeout, Fitabase).

    Idempotent: loading the same input again adds nothing; a file that grew adds only its new samples.
    """
    url = database_url(role=INGEST)
    zone = (
        ZoneInfo(check_timezone(timezone)) if timezone else ZoneInfo(get_settings().fitpipe_default_timezone)
    )
    with connect(url, autocommit=True) as conn:
        check_schema_current(conn)
        who = get_participant(conn, participant, study) if participant else None
        with RunRecorder(url, "ingest") as recorder:
            summary = IngestSummary()
            error: str | None = None
            try:
                with _file_progress("loading") as on_file:
                    ingest_path(
                        conn,
                        path,
                        participant=who,
                        study=study,
                        fmt=fmt,
                        options_for=_options_for(recorder.id, full),
                        timezone=zone,
                        summary=summary,
                        on_file=lambda r, d, t: (on_file(r, d, t), recorder.progress(summary)),
                    )
            except BaseException as exc:
                error = str(exc) or type(exc).__name__
                recorder.finish(summary, "aborted" if isinstance(exc, KeyboardInterrupt) else "failed", error)
                raise
            recorder.finish(summary, _status_of(summary, len(summary.failed)))
    print_summary(summary)
    say(
        f'run {recorder.id} recorded; look at the data with: psql "$(fitpipe db url)" -c '
        f'"SELECT metric_name, count(*) FROM raw_data GROUP BY 1"'
    )
    if summary.failed:
        raise InputError(
            f"{len(summary.failed)} file(s) could not be loaded (see FAILED lines above); nothing of them was stored"
        )


def _storage_step(conn: psycopg.Connection) -> int:
    """After the loads: retention, then compression of chunks older than the lag window plus a margin.
    A failure here is reported and counted, never hides the run's own result."""
    try:
        report = maintain_storage(
            conn,
            get_settings(),
            datetime.now(UTC),
            actor={"via": "daily run"},
            on_chunk=lambda c, i, n: say(f"compressed {i}/{n}: {c.hypertable} {c.range_start:%Y-%m-%d}"),
        )
    except (FitpipeError, psycopg.Error) as exc:
        say(f"FAILED storage step: {getattr(exc, 'message', None) or exc}")
        return 1
    for r in report.retention:
        say(
            f"retention: study {r.study}: {r.participants} participant(s) erased, {r.chunks_dropped} chunk(s) dropped"
        )
    for folder in report.inboxes_removed:
        say(f"removed the inbox folder of an erased participant: {folder}")
    if report.compression.chunks:
        say(
            f"compressed {len(report.compression.chunks)} chunk(s) older than {report.compression.older_than:%Y-%m-%d %H:%M}"
        )
    return 0


def daily_run(study: str | None = None, full: bool = False) -> int:
    """One pass of the daily job; returns the number of failures (participants or files)."""
    settings = get_settings()
    url = database_url(role=INGEST)
    inbox = settings.inbox
    use_inbox = settings.fitpipe_ingest_source in ("all", "inbox")
    use_live = settings.fitpipe_ingest_source in ("all", "googleHealthApi")
    say(
        f"daily run: {'inbox ' + str(inbox) if use_inbox else 'no inbox'}"
        f"{', Google Health API' if use_live else ''}"
    )
    with connect(url, autocommit=True) as conn:
        check_schema_current(conn)
        with RunRecorder(url, "run") as recorder:
            try:
                with _file_progress("loading") as on_file:
                    result = (
                        DailyResult(summary=IngestSummary())
                        if not use_inbox
                        else run_inbox(
                            conn,
                            inbox,
                            _options_for(recorder.id, full),
                            study=study,
                            on_participant=lambda p, i, n: (
                                say(f"participant {i}/{n}: {p.study}/{p.external_id}")
                                if not is_terminal()
                                else None
                            ),
                            on_file=on_file,
                            after_participant=recorder.progress,
                        )
                    )

                def synced(outcome: Outcome, done: int, total: int) -> None:
                    say(f"google health {done}/{total}: {outcome.name} {outcome.status}")
                    recorder.progress(result.summary)

                # then the live source: every participant with a Google Health grant
                started = time.perf_counter()
                live = (
                    SyncReport()
                    if not use_live
                    else sync_google_health(
                        url,
                        summary=result.summary,
                        study=study,
                        on_outcome=synced,
                        options=SyncOptions(
                            lag=settings.ingest_lag,
                            run_id=recorder.id,
                            chunk_rows=settings.fitpipe_chunk_rows,
                        ),
                    )
                )
                result.summary.seconds += time.perf_counter() - started
            except BaseException as exc:
                recorder.finish(
                    IngestSummary(),
                    "aborted" if isinstance(exc, KeyboardInterrupt) else "failed",
                    str(exc) or type(exc).__name__,
                )
                raise
            failures = len(result.summary.failed) + len(result.participants_failed) + live.failures
            lines = [
                f"participant {k}: {v}" for k, v in result.participants_failed.items()
            ] + live.error_lines()
            status = _status_of(result.summary, failures)
            if status == "failed" and live.with_status("synced"):
                status = "partial"
            recorder.finish(result.summary, status, "\n".join(lines) or None)
        failures += _storage_step(conn)
    print_summary(result.summary)
    say(
        f"participants: {result.participants_total} active, {len(result.participants_without_data)} without data yet, "
        f"{len(result.participants_failed)} failed"
    )
    for name, message in result.participants_failed.items():
        say(f"FAILED participant {name}: {message}")
    if live.outcomes or live.config_error:
        say(
            f"google health: {len(live.outcomes)} consented, {len(live.with_status('synced'))} synced, "
            f"{len(live.with_status('deferred'))} deferred to the next run, "
            f"{len(live.with_status('needs_reconsent'))} need re-consent"
        )
    for line in live.error_lines():
        say(f"FAILED {line}")
    return failures


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
        rows = conn.execute(
            """SELECT id, trigger, status, started_at, finished_at - started_at, participants, files, rows_read,
                      rows_new, rows_quarantined, left(coalesce(error, ''), 60)
               FROM ingest_runs ORDER BY id DESC LIMIT %s""",
            (limit,),
        ).fetchall()
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
                r[0],
                r[1],
                r[2],
                f"{(now - r[3]).total_seconds() / 3600:.1f} h ago",
                str(r[4]).split(".")[0] if r[4] else None,
                *r[5:],
            ]
            for r in rows
        ],
    )
