"""How fast adherence answers for a whole study: 1,000 participants × 30 days (target ≤ 300 ms), p50/p95.

    DATABASE_URL=postgresql://... .venv/bin/python bench/adherence.py [--participants 1000] [--days 60] [--runs 20]

Creates the database fitpipe_bench_adherence on that server (the role needs CREATEDB), applies the
migrations and COPYs a cohort's rollups straight into rollup_1h / rollup_1d (heart rate and steps, as the
loader would have left them; no raw samples: adherence never reads them), with sleep sessions, cursors
and sources. Then it times the default GET /api/v1/adherence?study=… (30 days per participant): the SQL
alone, and the whole request through the app (auth, audit rows, JSON). The database is dropped at the end
unless --keep.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

if __package__ in (None, ""):  # run as a script: make the checkout importable without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from one_row import scalar  # noqa: E402  (bench/ is not a package)

from fitpipe.adherence_rules import AdherenceRules
from fitpipe.catalog import BY_NAME
from fitpipe.db import connect, redact
from fitpipe.errors import FitpipeError
from fitpipe.migrations import migrate
from fitpipe.participants import ensure_study
from fitpipe.pgcopy import copy_rollups, rollup_rows
from fitpipe.settings import Settings, get_settings
from fitpipe_api.queries.adherence import DEFAULT_DAYS

BENCH_DATABASE = "fitpipe_bench_adherence"
STUDY = "bench"
ZONES = (
    "America/New_York",
    "Europe/London",
    "UTC",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Sydney",
)
HR, STEPS = BY_NAME["heart_rate"].id, BY_NAME["steps"].id
US_PER_HOUR = 3_600_000_000


def load_cohort(conn: psycopg.Connection, participants: int, days: int, seed: int = 11) -> None:
    """A study of `participants` enrolled `days` local days ago, with rollups up to now; wear from ~40 % to ~95 %."""
    rng = np.random.default_rng(seed)
    study_id = ensure_study(conn, STUDY)
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        for i in range(participants):
            tz = ZONES[i % len(ZONES)]
            start = datetime.combine(
                now.astimezone(ZoneInfo(tz)).date() - timedelta(days=days),
                datetime.min.time(),
                tzinfo=ZoneInfo(tz),
            )
            cur.execute(
                "INSERT INTO participants (study_id, external_id, timezone, email, enrolment_start) VALUES (%s, %s, %s, %s, %s)",
                (study_id, f"P{i:04d}", tz, f"p{i:04d}@example.org", start),
            )
        pids = [
            r[0] for r in cur.execute("SELECT id, enrolment_start FROM participants ORDER BY id").fetchall()
        ]
        starts = [
            r[0] for r in cur.execute("SELECT enrolment_start FROM participants ORDER BY id").fetchall()
        ]
        now_us = int(now.timestamp() * 1e6) // US_PER_HOUR * US_PER_HOUR
        parts = []
        for pid, start in zip(pids, starts, strict=True):
            t0 = int(start.timestamp() * 1e6) // US_PER_HOUR * US_PER_HOUR
            hours = np.arange(t0, now_us, US_PER_HOUR, dtype=np.int64)
            wear = rng.uniform(0.4, 0.95)
            day_on = rng.random(hours.size // 24 + 1) < wear + 0.05  # whole days off the wrist
            p_hour = np.clip(rng.normal(wear, 0.2, hours.size), 0, 1) * day_on[np.arange(hours.size) // 24]
            minutes = rng.binomial(60, p_hour).astype(np.int32)
            keep = minutes > 0
            h, m = hours[keep], minutes[keep]
            count = m * 12  # 5-second heart rate
            parts.append(
                rollup_rows(h, count * 70.0, np.full(h.size, 48.0), np.full(h.size, 150.0), count, m, pid, HR)
            )
            steps = (m * rng.uniform(0, 20, h.size)).round()
            parts.append(rollup_rows(h, steps, np.zeros(h.size), steps, m, m, pid, STEPS))
        copy_rollups(cur, "rollup_1h", parts)
        # days from hours with the loader's local-day expression, so 1h and 1d agree
        cur.execute(
            """INSERT INTO rollup_1d (bucket, sum, min, max, participant_id, count, minutes, metric_id)
               SELECT date_trunc('day', h.bucket AT TIME ZONE p.timezone) AT TIME ZONE p.timezone AS b,
                      sum(h.sum), min(h.min), max(h.max), h.participant_id, sum(h.count), sum(h.minutes), h.metric_id
               FROM rollup_1h h JOIN participants p ON p.id = h.participant_id GROUP BY b, h.participant_id, h.metric_id"""
        )
        cur.execute("SELECT setseed(0.5)")
        cur.execute(
            """INSERT INTO sleep_sessions (participant_id, start_time, end_time, local_date, minutes_asleep, source)
               SELECT d.participant_id, d.bucket - interval '2 hours', d.bucket + interval '6 hours',
                      (d.bucket AT TIME ZONE p.timezone)::date, 420, 'bench'
               FROM rollup_1d d JOIN participants p ON p.id = d.participant_id
               WHERE d.metric_id = %s AND random() < 0.85""",
            (HR,),
        )
        cur.execute(
            """INSERT INTO ingest_cursors (participant_id, source, metric_id, initial_value, last_value)
               SELECT participant_id, 'bench', metric_id, min(bucket), max(bucket) + interval '59 minutes'
               FROM rollup_1h GROUP BY participant_id, metric_id"""
        )
        cur.execute(
            """INSERT INTO participant_sources (participant_id, source, status, last_attempt_at, last_success_at)
               SELECT id, 'bench', CASE WHEN id % 50 = 0 THEN 'needs_reconsent' ELSE 'active' END, now(),
                      now() - (id % 4) * interval '1 day'
               FROM participants WHERE id % 97 <> 0"""
        )
    conn.execute("VACUUM ANALYZE")


@dataclass
class Timing:
    label: str
    p50: float
    p95: float
    cpu: float | None
    """Seconds of CPU per run, this process plus the database backends (None when /proc cannot tell)."""
    note: str = ""


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _backend_cpu(conn: psycopg.Connection) -> float | None:
    """CPU seconds used so far by every backend of the bench database (when the server runs on this machine)."""
    pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _time(
    label: str, conn: psycopg.Connection, runs: int, run: Callable[[], object], note: str = ""
) -> Timing:
    run()  # warms the caches
    samples = []
    cpu0, own0 = _backend_cpu(conn), time.process_time()
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    cpu1 = _backend_cpu(conn)
    cpu = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0 + time.process_time() - own0) / runs
    return Timing(label, *_percentiles(samples), cpu, note)


def measure(url: str, conn: psycopg.Connection, runs: int) -> list[Timing]:
    from fastapi.testclient import TestClient

    from fitpipe.tokens import create_token
    from fitpipe_api.main import create_app
    from fitpipe_api.queries.adherence import read_days, read_summaries

    study_id = ensure_study(conn, STUDY)
    rules = AdherenceRules()
    _, token = create_token(conn, name="bench", role="admin", studies=[], all_studies=True)
    headers = {"Authorization": f"Bearer {token}"}
    timings = [
        _time("SQL: summaries", conn, runs, lambda: read_summaries(conn, study_id, rules)),
        _time(
            "SQL: days",
            conn,
            runs,
            lambda: read_days(conn, study_id, rules, start=None, end=None, valid_hours=False),
        ),
        _time(
            "SQL: days with valid hours",
            conn,
            runs,
            lambda: read_days(conn, study_id, rules, start=None, end=None, valid_hours=True),
        ),
    ]
    # a benchmark database's superuser login: allowed explicitly (privileges do not change the timings)
    settings = Settings(_env_file=None, fitpipe_api_allow_superuser=True)
    with TestClient(create_app(settings, url=url)) as client:
        for params in ({"study": STUDY}, {"study": STUDY, "valid_hours": "true"}):
            sizes: list[int] = []

            def get(params: dict[str, str] = params, sizes: list[int] = sizes) -> None:
                r = client.get("/api/v1/adherence", params=params, headers=headers)
                r.raise_for_status()
                sizes.append(len(r.content))

            label = "GET /api/v1/adherence" + ("?valid_hours=true" if "valid_hours" in params else "")
            timing = _time(label, conn, runs, get)
            timing.note = f"{sizes[-1] / 1e6:.1f} MB"
            timings.append(timing)
    return timings


def report(timings: list[Timing], participants: int, days: int, runs: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"adherence of {participants:,} participants × {days} days (the default span), {runs} warm runs each; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs",
        f"{'':<50}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>9}  target",
    ]
    for t in timings:
        cpu = f"{t.cpu * 1e3:9.1f}" if t.cpu is not None else f"{'-':>9}"
        target = "≤ 300" if t.label == "GET /api/v1/adherence" else ""
        lines.append(
            f"{t.label + (' (' + t.note + ')' if t.note else ''):<50}{t.p50 * 1e3:9.1f}{t.p95 * 1e3:9.1f}{cpu}  {target}"
        )
    lines.append(
        "CPU ms: this process plus the database backends per run; wall times above it mean waiting for a CPU."
    )
    return "\n".join(lines)


@click.command()
@click.option("--participants", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option(
    "--days", type=click.IntRange(min=2), default=60, show_default=True, help="Enrolled this many days ago."
)
@click.option("--runs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--keep", is_flag=True, help="Keep the database (re-use it with --reuse).")
@click.option("--reuse", is_flag=True, help="Time an existing bench database without loading again.")
def main(participants: int, days: int, runs: int, keep: bool, reuse: bool) -> None:
    """Time the adherence of a whole study in a scratch database on DATABASE_URL's server."""
    url = get_settings().external_database_url()
    if not url:
        click.echo(
            "adherence: no database given; set DATABASE_URL to a PostgreSQL server whose role may CREATE DATABASE,\n"
            "  e.g. DATABASE_URL=$(FITPIPE_HOME=/tmp/bench fitpipe db url) after `FITPIPE_HOME=/tmp/bench fitpipe db start`",
            err=True,
        )
        raise SystemExit(2)
    bench_url = make_conninfo(url, dbname=BENCH_DATABASE)
    try:
        with connect(url, autocommit=True) as admin:
            if not reuse:
                admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")
            try:
                with connect(bench_url, autocommit=True) as conn:
                    if not reuse:
                        migrate(conn)
                        started = time.perf_counter()
                        load_cohort(conn, participants, days)
                        click.echo(
                            f"loaded {participants:,} participants × {days} days into {BENCH_DATABASE} on "
                            f"{redact(url)} in {time.perf_counter() - started:.1f} s",
                            err=True,
                        )
                    participants = int(scalar(conn, "SELECT count(*) FROM participants"))
                    timings = measure(bench_url, conn, runs)
            finally:
                if not keep:
                    admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    except FitpipeError as exc:
        click.echo(f"adherence: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    click.echo(report(timings, participants, DEFAULT_DAYS, runs))


if __name__ == "__main__":
    main()
