"""How fast the dashboard renders: the cohort page for 1,000 participants and the drill-down for a year of
1-second heart rate (targets ≤ 2 s each), through the real API and the dashboard's real callbacks.

    DATABASE_URL=postgresql://... .venv/bin/python bench/dashboard.py [--participants 1000] [--year-days 365]

Creates the database fitpipe_bench_dashboard on that server (the role needs CREATEDB): the cohort of
bench/adherence.py (rollups of 1,000 participants × 30 days) plus one participant with a year of 1-Hz heart
rate loaded through ingest_job.load (raw samples and rollups, as a real load leaves them). Serves the API
with uvicorn on loopback and times each page as the browser asks for it: every callback the page fires,
POSTed to the dashboard's /_dash-update-component (API call, figure, JSON), in the order the browser
chains them. The database is dropped at the end unless --keep.

    .venv/bin/python bench/dashboard.py --reuse --keep --clock cpu --runs 10

times CPU seconds instead of wall seconds: to compare two revisions on a shared machine, alternate runs of
each (old, new, old, new ...) on the kept database.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import click
import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

if __package__ in (None, ""):  # run as a script: make the checkout importable without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fitpipe.db import connect, redact
from fitpipe.errors import FitpipeError
from fitpipe.migrations import migrate
from fitpipe.participants import add_participant
from fitpipe.passwords import generate_password
from fitpipe.settings import Settings, get_settings
from fitpipe.users import add_user, reset_password
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.records import ParsedFile, SampleBatch

BENCH_DATABASE = "fitpipe_bench_dashboard"
STUDY = "bench"
YEAR_USER = "Y0001"
BENCH_USER = "bench-coordinator"
TARGET_SECONDS = 2.0
CHUNK_DAYS = 10


def _adherence_bench() -> Any:
    """bench/adherence.py's cohort loader (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_adherence", Path(__file__).with_name("adherence.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_year(conn: psycopg.Connection, days: int, seed: int = 3) -> None:
    """One participant with `days` days of 1-Hz heart rate up to now, off the wrist 2 h every evening."""
    p, _ = add_participant(conn, YEAR_USER, STUDY, timezone="Europe/Berlin", email="y0001@example.org")
    rng = np.random.default_rng(seed)
    end = int(datetime.now(UTC).timestamp()) // 60 * 60
    start = end - days * 86_400
    conn.execute("UPDATE participants SET enrolment_start = to_timestamp(%s) WHERE id = %s", (start, p.id))
    for chunk_start in range(start, end, CHUNK_DAYS * 86_400):
        secs = np.arange(chunk_start, min(end, chunk_start + CHUNK_DAYS * 86_400), dtype=np.int64)
        worn = ((secs % 86_400) < 19 * 3600) | ((secs % 86_400) >= 21 * 3600)
        secs = secs[worn]
        hr = 65 + 12 * np.sin(2 * np.pi * (secs % 86_400) / 86_400 - 2) + rng.normal(0, 3, secs.size)
        name = f"year-{chunk_start}.json"
        batch = SampleBatch("heart_rate", secs * 1_000_000, np.round(hr), name)
        load_parsed_file(
            conn,
            ParsedFile(name, "bench", [batch]),
            {None: p},
            FileIdentity(name, 1, name),
            LoadOptions(source="bench", lag=timedelta(hours=1)),
        )


def _listed(output: Any) -> list[Any]:
    return output if isinstance(output, list) else [output]


class Page:
    """The dashboard's callbacks POSTed through its Flask app, as the browser sends them, signed in as
    `username` (through the sign-in form, so the timings include the per-person API session)."""

    def __init__(self, app: Any, username: str, password: str) -> None:
        self.app = app
        self.http = app.server.test_client()
        form = self.http.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf, form[:300]
        signed = self.http.post(
            "/login", data={"csrf": csrf.group(1), "username": username, "password": password, "next": "/"}
        )
        assert signed.status_code == 303, signed.text[:300]
        cookie = self.http.get_cookie("_csrf_token")
        assert cookie is not None
        self.headers = {"X-CSRFToken": cookie.value}

    def call(
        self, output: str, inputs: dict[str, Any], state: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        key, spec = next(
            (k, v)
            for k, v in self.app.callback_map.items()
            if output in [f"{o.component_id}.{o.component_property}" for o in _listed(v["output"])]
        )
        state = state or {}

        def props(items: list[dict[str, str]], values: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in items
            ]

        outputs: Any = [
            {"id": o.component_id, "property": o.component_property} for o in _listed(spec["output"])
        ]
        if not isinstance(spec["output"], list):
            outputs = outputs[0]
        body = {
            "output": key,
            "outputs": outputs,
            "inputs": props(spec["inputs"], inputs),
            "state": props(spec["state"], state),
            "changedPropIds": list(inputs),
        }
        response = self.http.post("/_dash-update-component", json=body, headers=self.headers)
        if response.status_code == 204:
            return {}
        assert response.status_code == 200, response.data[:500]
        return dict(json.loads(response.data)["response"])


def cohort_page(page: Page) -> int:
    """The callbacks the cohort page fires on load, in order; returns the rows it shows."""
    loaded = page.call("cohort-data.data", {"url.pathname": "/", "refresh.data": 0})
    answer = loaded["cohort-data"]["data"]
    study = page.call("study.options", {"cohort-data.data": answer}, {"study.value": None})["study"]["value"]
    rules = page.call(
        "th-adherence.value", {"study.value": study, "th-reset.n_clicks": None}, {"cohort-data.data": answer}
    )
    filled = page.call(
        "cohort-grid.rowData",
        {
            "cohort-data.data": answer,
            "study.value": study,
            "th-adherence.value": rules["th-adherence"]["value"],
            "th-upload.value": rules["th-upload"]["value"],
            "th-sleep.value": rules["th-sleep"]["value"],
        },
    )
    heatmap = page.call(
        "wear-heatmap.figure",
        {"study.value": study, "heatmap-days.value": 30, "refresh.data": 0},
        {"url.pathname": "/", "cohort-data.data": answer},
    )
    assert heatmap["wear-heatmap"]["figure"]["data"], "the heatmap has no data"
    return len(filled["cohort-grid"]["rowData"])


def drill_down(page: Page, days: int, impute: bool = False) -> str:
    """The participant page's callbacks for a range of `days` ending today; returns the granularity drawn."""
    path = f"/participant/{STUDY}/{YEAR_USER}"
    p = page.call("participant-data.data", {"url.pathname": path, "refresh.data": 0})["participant-data"][
        "data"
    ]
    page.call("participant-title.children", {"participant-data.data": p}, {"url.pathname": path})
    end = datetime.now(UTC).date()
    start = (end - timedelta(days=days - 1)).isoformat()
    hr = page.call(
        "hr-graph.figure",
        {
            "hr-range.start_date": start,
            "hr-range.end_date": end.isoformat(),
            "hr-granularity.value": "auto",
            "hr-impute.value": ["impute"] if impute else [],
        },
        {"url.pathname": path, "participant-data.data": p},
    )
    page.call(
        "trend-rhr.figure",
        {"hr-range.start_date": start, "hr-range.end_date": end.isoformat()},
        {"url.pathname": path},
    )
    summary = str(hr["hr-summary"]["children"])
    assert "mean" in summary, summary
    return summary.split(" · ")[-2]


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""wall: what a user waits. cpu: this process's CPU time (the API and the dashboard share the process;
PostgreSQL's work is not counted), much steadier than wall time on a shared machine: compare two revisions
with it, alternating runs of each."""
clock = CLOCKS["wall"]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """(first run, median of the next `runs`, the last result) in seconds of `clock`."""
    began = clock()
    result = fn()
    first = clock() - began
    samples = []
    for _ in range(runs):
        began = clock()
        result = fn()
        samples.append(clock() - began)
    return first, statistics.median(samples), result


def measure(bench_url: str, password: str, runs: int, year_days: int) -> list[tuple[str, float, float, str]]:
    import uvicorn

    from fitpipe_api.main import create_app as create_api
    from fitpipe_dashboard.app import create_app
    from fitpipe_dashboard.client import ApiClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            # a benchmark database's superuser login: allowed explicitly (privileges do not change the timings)
            create_api(Settings(_env_file=None, fitpipe_api_allow_superuser=True), url=bench_url),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    rows: list[tuple[str, float, float, str]] = []
    try:
        page = Page(create_app(f"http://127.0.0.1:{port}", Settings(_env_file=None)), BENCH_USER, password)
        first, median, n = timed(lambda: cohort_page(page), runs)
        rows.append((f"cohort page, {n:,} participants", first, median, "table + counts + 30-day heatmap"))
        # the API alone, with a session of the same person
        session = ApiClient(f"http://127.0.0.1:{port}").sign_in(BENCH_USER, password).token
        api = ApiClient(f"http://127.0.0.1:{port}", session)
        first, median, _ = timed(lambda: api.participants(STUDY), runs)
        rows.append(("  of which GET /participants", first, median, "the API alone"))
        first, median, _ = timed(lambda: api.adherence(STUDY), runs)
        rows.append(("  of which GET /adherence (30 days)", first, median, "the API alone, for the heatmap"))
        for days, label in (
            (year_days, "a year" if year_days == 365 else f"{year_days} days"),
            (7, "7 days"),
            (1, "1 day"),
        ):
            first, median, g = timed(partial(drill_down, page, days), runs)
            rows.append((f"drill-down, {label} of 1-Hz heart rate", first, median, f"drawn {g}"))
        first, median, g = timed(lambda: drill_down(page, 1, impute=True), runs)
        rows.append(("drill-down, 1 day, imputed values included", first, median, f"drawn {g}"))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return rows


def report(rows: list[tuple[str, float, float, str]], runs: int, clock_name: str = "wall") -> str:
    unit = "s" if clock_name == "wall" else "CPU s"
    lines = [f"{'page':<48} {f'first ({unit})':>12} {f'median of {runs} ({unit})':>20} {'target':>8}  note"]
    for label, first, median, note in rows:
        ok = "ok" if max(first, median) <= TARGET_SECONDS else "SLOW"
        lines.append(f"{label:<48} {first:>12.3f} {median:>20.3f} {ok:>8}  {note}")
    lines.append(
        f"target: ≤ {TARGET_SECONDS:g} s per page (API answer + the page's Dash callbacks, figures as JSON)"
    )
    return "\n".join(lines)


@click.command()
@click.option("--participants", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option(
    "--year-days",
    type=click.IntRange(min=2),
    default=365,
    show_default=True,
    help="Days of 1-Hz heart rate of the drill-down participant.",
)
@click.option("--runs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--keep", is_flag=True, help="Keep the database (re-use it with --reuse).")
@click.option("--reuse", is_flag=True, help="Time an existing bench database without loading again.")
@click.option(
    "--clock",
    "clock_name",
    type=click.Choice(sorted(CLOCKS)),
    default="wall",
    show_default=True,
    help="wall: seconds a user waits; cpu: CPU seconds of the API and the dashboard (steadier, for A/B runs).",
)
def main(participants: int, year_days: int, runs: int, keep: bool, reuse: bool, clock_name: str) -> None:
    """Time the dashboard's cohort page and drill-down against a scratch database on DATABASE_URL's server."""
    global clock
    clock = CLOCKS[clock_name]
    url = get_settings().external_database_url()
    if not url:
        click.echo(
            "dashboard: no database given; set DATABASE_URL to a PostgreSQL server whose role may CREATE "
            "DATABASE,\n  e.g. DATABASE_URL=$(FITPIPE_HOME=/tmp/bench fitpipe db url) after "
            "`FITPIPE_HOME=/tmp/bench fitpipe db start`",
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
                        _adherence_bench().load_cohort(conn, participants, 30)
                        click.echo(
                            f"loaded {participants:,} participants × 30 days in "
                            f"{time.perf_counter() - started:.1f} s",
                            err=True,
                        )
                        started = time.perf_counter()
                        load_year(conn, year_days)
                        conn.execute("VACUUM ANALYZE")
                        click.echo(
                            f"loaded {year_days} days of 1-Hz heart rate of {YEAR_USER} in "
                            f"{time.perf_counter() - started:.1f} s into {BENCH_DATABASE} on {redact(url)}",
                            err=True,
                        )
                    password = generate_password()
                    if reuse:
                        reset_password(conn, BENCH_USER, password=password)
                    else:
                        add_user(
                            conn, username=BENCH_USER, role="coordinator", studies=[STUDY], password=password
                        )
                    rows = measure(bench_url, password, runs, year_days)
            finally:
                if not keep:
                    admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    except FitpipeError as exc:
        click.echo(f"dashboard: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    click.echo(report(rows, runs, clock_name))


if __name__ == "__main__":
    main()
