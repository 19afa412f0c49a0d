"""`fitpipe demo`: the README's first command — local database, a synthetic cohort ingested, a demo user to sign
in with, API and dashboard served."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import httpx

from fitpipe.cli.ingest import daily_run
from fitpipe.cli.output import print_table, say
from fitpipe.db import connect, database_url, redact, role_passwords
from fitpipe.errors import ConflictError
from fitpipe.localdb.server import LocalDatabase
from fitpipe.migrations import migrate
from fitpipe.participants import add_participant
from fitpipe.settings import get_settings
from fitpipe.tokens import create_token
from fitpipe.users import PasswordPolicy, add_user, reset_password

if TYPE_CHECKING:  # the synthesizer itself is imported when `demo` runs
    from fitpipe_ingest.synth.cohort import Format

__all__ = ["demo"]

STUDY = "demo"
DEMO_USER = "demo"


def _synthesize(out: Path, participants: int, days: int, fmt: Format, seed: int) -> None:
    # The cohort ends yesterday, so "last sample", "no upload in 48 h" and adherence-to-date read as
    # they would in a running trial (a cohort in the past would flag everyone as not uploading).
    from fitpipe_ingest.synth.cohort import CohortOptions, default_jobs, write_cohort

    start = date.today() - timedelta(days=days)
    say(f"synthesizing {participants} participants x {days} days ({fmt}) into {out}")
    started = time.perf_counter()
    result = write_cohort(
        CohortOptions(
            participants=participants,
            days=days,
            out=out,
            format=fmt,
            seed=seed,
            start=start,
            jobs=default_jobs(),
            overwrite=True,
        ),
        on_done=lambda r, done, total: say(
            f"  [{done}/{total}] {r.participant_id} ({r.kind}): {r.samples:,} heart-rate samples"
        ),
    )
    say(
        f"wrote {result.bytes / 1e6:,.0f} MB, {result.samples:,} heart-rate samples in {time.perf_counter() - started:.0f} s"
    )


def _enrol(listing: Path) -> int:
    with listing.open() as fh, connect(autocommit=True) as conn:
        rows = list(csv.DictReader(fh))
        for row in rows:
            add_participant(
                conn,
                row["participant_id"],
                STUDY,
                timezone=row["timezone"],
                email=row["email"],
                enrolment_start=None,
            )
            conn.execute(
                "UPDATE participants SET enrolment_start = coalesce(enrolment_start, %s::date::timestamp AT TIME ZONE timezone) "
                "WHERE external_id = %s",
                (row["enrolment_start"], row["participant_id"]),
            )
    return len(rows)


def _overview() -> None:
    with connect(autocommit=True) as conn:
        rows = conn.execute(
            """SELECT m.name, m.unit, count(DISTINCT r.participant_id), sum(r.count), min((r.bucket AT TIME ZONE p.timezone)::date), max((r.bucket AT TIME ZONE p.timezone)::date)
               FROM rollup_1d r JOIN metrics m ON m.id = r.metric_id JOIN participants p ON p.id = r.participant_id
               GROUP BY m.name, m.unit ORDER BY 4 DESC"""
        ).fetchall()
        sleep = conn.execute("SELECT count(*), count(DISTINCT participant_id) FROM sleep_sessions").fetchone()
    print_table(
        "What is stored", ["metric", "unit", "participants", "samples", "first day", "last day"], rows
    )
    if sleep:
        say(f"sleep sessions: {sleep[0]:,} of {sleep[1]} participants")


def _demo_user() -> str:
    """The demo coordinator's password: a new one on every run (only its hash is kept)."""
    policy = PasswordPolicy.from_settings(get_settings())
    with connect(autocommit=True) as conn:
        try:
            _, password = add_user(
                conn, username=DEMO_USER, role="coordinator", studies=[STUDY], policy=policy
            )
        except ConflictError:
            _, password, _ = reset_password(conn, DEMO_USER, policy=policy)
    assert password is not None
    return password


def _wait_http(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _serve(token: str, password: str, host: str, api_port: int, dashboard_port: int) -> None:
    # the dashboard holds no token: each person signs in and the API acts as them
    env = {k: v for k, v in os.environ.items() if k != "FITPIPE_API_TOKEN"}
    env["FITPIPE_API_URL"] = f"http://{host}:{api_port}"
    procs: list[subprocess.Popen[bytes]] = []
    fitpipe = [sys.executable, "-m", "fitpipe.cli"]
    procs.append(
        subprocess.Popen([*fitpipe, "serve", "api", "--host", host, "--port", str(api_port)], env=env)
    )
    if not _wait_http(f"http://{host}:{api_port}/readyz"):
        say("the API did not become ready; see its output above")
    dashboard_available = _has_dashboard()
    if dashboard_available:
        procs.append(
            subprocess.Popen(
                [*fitpipe, "serve", "dashboard", "--host", host, "--port", str(dashboard_port)], env=env
            )
        )
    say("")
    say(f"API:       http://{host}:{api_port}/docs   (API token below)")
    if dashboard_available:
        say(f"dashboard: http://{host}:{dashboard_port}/   (sign in as {DEMO_USER!r}, password below)")
    say(f"API token: {token}")
    say(f"user:      {DEMO_USER}")
    say(f"password:  {password}")
    say("Ctrl-C stops the API and dashboard; `fitpipe db stop` stops the database.")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _has_dashboard() -> bool:
    try:
        import fitpipe_dashboard.app  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


@click.command()
@click.option("--participants", "-n", default=20, show_default=True, type=click.IntRange(1))
@click.option("--days", "-d", default=60, show_default=True, type=click.IntRange(1))
@click.option(
    "--format", "fmt", type=click.Choice(["takeout", "wearipedia"]), default="takeout", show_default=True
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--serve/--no-serve", default=True, show_default=True, help="Serve the API and dashboard at the end."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--api-port", default=8000, show_default=True, type=int)
@click.option("--dashboard-port", default=8050, show_default=True, type=int)
def demo(
    participants: int,
    days: int,
    fmt: Format,  # one of the click.Choice above
    seed: int,
    serve: bool,
    host: str,
    api_port: int,
    dashboard_port: int,
) -> None:
    """Start the local database, synthesize and ingest a cohort, then serve the API and dashboard.

    Safe to run again: the cohort is written once, and ingesting it again adds nothing.
    """
    settings = get_settings()
    if settings.external_database_url() is None:
        LocalDatabase(settings.home, say=say).start()
    say(f"database: {redact(database_url())}")
    with connect(autocommit=True) as conn:
        for m in migrate(conn, passwords=role_passwords()):  # the API's and ingest's own logins
            say(f"applied {m.path.name}")
    out = settings.inbox / STUDY
    listing = out / "participants.csv"
    if not listing.exists():
        _synthesize(out, participants, days, fmt, seed)
    else:
        say(f"using the cohort already in {out}")
    say(f"enrolled {_enrol(listing)} participants in study {STUDY!r}")
    daily_run(study=STUDY)
    _overview()
    say("")
    say("Look at the data:")
    say(
        '  psql "$(fitpipe db url)" -c "SELECT user_id, metric_name, count(*) FROM raw_data GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 20"'
    )
    say(
        '  psql "$(fitpipe db url)" -c "SELECT user_id, bucket::date, round(mean) AS hr, minutes AS wear_minutes '
        "FROM data_1d WHERE metric_name = 'heart_rate' ORDER BY 1, 2 LIMIT 20\""
    )
    password = _demo_user()
    if not serve:
        say("")
        say(f"Sign in to the dashboard (`fitpipe serve api` and `fitpipe serve dashboard`) as {DEMO_USER!r}:")
        say(f"  password: {password}")
        return
    with connect(autocommit=True) as conn:
        _, token = create_token(conn, name="demo API token", role="coordinator", studies=[STUDY])
    _serve(token, password, host, api_port, dashboard_port)
