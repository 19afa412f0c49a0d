"""No duplicated minute data, before and after, side by side in one run: the same cohort loaded twice, once
with the old layout (rollup_1m kept a per-minute copy of every metric) and once with today's (rollup_1m only
for metrics sampled more often than once a minute; per-minute metrics are read from their samples).

    [DATABASE_URL=postgresql://...] .venv/bin/python bench/minute_layer.py [--participants 10] [--days 28] [--runs 15]

Uses the server of DATABASE_URL / DB_* or the embedded database. Creates the databases
fitpipe_bench_min_before / _after on it (the role needs CREATEDB) and loads
through fitpipe's loader heart rate (realistic, ~1 per 5 s), steps, calories, distance and AZM per minute,
SpO2 and HRV at night and the daily summaries. "before" runs the loader with every metric flagged as keeping
rollup_1m (the code path the old loader took for every metric) and answers 1-minute reads from rollup_1m and
the view as sql/0001 defined it. Then it compares, alternating between the two databases:
  - load time, rows and bytes of rollup_1m and of everything;
  - the API's 1-minute read (fitpipe_api.queries.timeseries.stream_rollup) of steps for 1, 7 and (days - 4) days,
    and of heart rate (unchanged path), and data_1m for one participant-day of steps;
  - the adherence queries for the whole cohort (the API's /adherence and /participants): equal answers,
    time side by side.
Both databases are dropped at the end unless --keep.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from unittest.mock import patch

import click
import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

if __package__ in (None, ""):  # run as a script: make the checkout importable without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from one_row import scalar  # noqa: E402  (bench/ is not a package)
from storage import DAY, DAY0_US, US, day_batches  # noqa: E402  (bench/ is not a package)

from fitpipe.adherence_rules import AdherenceRules  # noqa: E402
from fitpipe.catalog import Metric  # noqa: E402
from fitpipe.db import connect, database_url, redact  # noqa: E402
from fitpipe.errors import FitpipeError  # noqa: E402
from fitpipe.localtime import us_to_datetime  # noqa: E402
from fitpipe.migrations import migrate  # noqa: E402
from fitpipe.participants import add_participant  # noqa: E402
from fitpipe.storage import read_sizes  # noqa: E402
from fitpipe_api.queries.adherence import read_days, read_summaries  # noqa: E402
from fitpipe_api.queries.timeseries import Span, read_all, stream_rollup  # noqa: E402
from fitpipe_ingest.load import FileIdentity, LoadOptions, PendingFile, load_files  # noqa: E402
from fitpipe_ingest.records import ParsedFile  # noqa: E402

LAYOUTS = ("before", "after")

# sql/0001_core.sql's view: every metric's minutes from rollup_1m.
OLD_VIEW = """
CREATE OR REPLACE VIEW data_1m_before AS
SELECT p.external_id AS user_id, m.name AS metric_name, r.bucket, r.count, r.sum, r.min, r.max,
       r.sum / NULLIF(r.count, 0) AS mean, r.minutes, st.name AS study
FROM rollup_1m r JOIN participants p ON p.id = r.participant_id JOIN studies st ON st.id = p.study_id
JOIN metrics m ON m.id = r.metric_id
"""


@contextmanager
def layout(name: str) -> Iterator[None]:
    """Within "before", every metric keeps rollup_1m rows, as the loader did before sql/0008."""
    if name == "after":
        yield
        return
    with patch.object(Metric, "rollup_1m", property(lambda self: True)):
        yield


def load_both(
    conns: dict[str, psycopg.Connection], participants: int, days: int
) -> dict[str, tuple[list[int], float]]:
    """The same participant-days into both databases, alternating, so both loads see the same machine."""
    rng = np.random.default_rng(11)
    people = {
        lay: [add_participant(c, f"M{i:03d}", "minutes", timezone="UTC")[0] for i in range(participants)]
        for lay, c in conns.items()
    }
    seconds = dict.fromkeys(conns, 0.0)
    for day in range(days):
        for i in range(participants):
            batches = day_batches(rng, day, realistic=True)
            for lay, conn in conns.items():
                p = people[lay][i]
                path = f"{p.external_id}/day-{day}.json"
                pending = PendingFile(
                    ParsedFile(path, "bench", batches), {None: p}, FileIdentity(path, 1, path)
                )
                started = time.perf_counter()
                with layout(lay):
                    load_files(conn, [pending], LoadOptions("bench"))
                seconds[lay] += time.perf_counter() - started
    return {lay: ([p.id for p in people[lay]], seconds[lay]) for lay in conns}


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


@click.command()
@click.option("--participants", type=click.IntRange(min=2), default=10, show_default=True)
@click.option("--days", type=click.IntRange(min=8), default=28, show_default=True)
@click.option("--runs", type=click.IntRange(min=3), default=15, show_default=True)
@click.option("--keep", is_flag=True, help="Keep the scratch databases.")
def main(participants: int, days: int, runs: int, keep: bool) -> None:
    """Old and new minute layout side by side: storage, load time, 1-minute reads, adherence."""
    try:
        url = database_url()  # DATABASE_URL / DB_*, else the embedded database
    except FitpipeError as exc:
        click.echo(f"minute_layer: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    names = {lay: f"fitpipe_bench_min_{lay}" for lay in LAYOUTS}
    try:
        with connect(url, autocommit=True) as admin:
            for name in names.values():
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {name}")
            try:
                conns = {
                    lay: psycopg.connect(make_conninfo(url, dbname=n), autocommit=True)
                    for lay, n in names.items()
                }
                result = compare(conns, participants, days, runs)
                for c in conns.values():
                    c.close()
            finally:
                if not keep:
                    for name in names.values():
                        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except FitpipeError as exc:
        click.echo(f"minute_layer: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    click.echo(f"server: {redact(url)}; {participants} participants x {days} days, realistic heart rate")
    click.echo(result)


def compare(conns: dict[str, psycopg.Connection], participants: int, days: int, runs: int) -> str:
    for conn in conns.values():
        migrate(conn)
        conn.execute(OLD_VIEW)
    loaded = load_both(conns, participants, days)
    for lay, conn in conns.items():
        conn.execute("VACUUM ANALYZE")
        click.echo(f"{lay}: loaded in {loaded[lay][1]:.1f} s", err=True)
    lines = [f"{'':<46}{'before':>14}{'after':>14}{'after/before':>14}"]

    def row(label: str, before: float, after: float, fmt: str = "{:,.0f}") -> None:
        lines.append(
            f"{label:<46}{fmt.format(before):>14}{fmt.format(after):>14}{after / before if before else 0:>14.2f}"
        )

    row("load seconds (same rows, same loader)", loaded["before"][1], loaded["after"][1], "{:.1f}")
    sizes = {lay: {t.table_name: t.total_bytes for t in read_sizes(c)} for lay, c in conns.items()}
    counts = {lay: int(scalar(c, "SELECT count(*) FROM rollup_1m")) for lay, c in conns.items()}
    row("rollup_1m rows", counts["before"], counts["after"])
    row("rollup_1m MB", sizes["before"]["rollup_1m"] / 1e6, sizes["after"]["rollup_1m"] / 1e6, "{:.1f}")
    row(
        "samples + rollups MB",
        sum(sizes["before"].values()) / 1e6,
        sum(sizes["after"].values()) / 1e6,
        "{:.1f}",
    )
    pdays = participants * days
    row(
        "bytes per participant-day (kB)",
        sum(sizes["before"].values()) / pdays / 1e3,
        sum(sizes["after"].values()) / pdays / 1e3,
        "{:.0f}",
    )

    pid = {lay: loaded[lay][0][0] for lay in LAYOUTS}
    start = us_to_datetime(DAY0_US + 2 * DAY * US)
    reads: list[tuple[str, Callable[[str], object]]] = []

    def minute_read(lay: str, metric_id: int, span_days: int) -> object:
        span = Span(pid[lay], metric_id, start, start + timedelta(days=span_days))
        return read_all(stream_rollup(conns[lay], span, "1m"))

    for metric_id, name in ((16, "steps"), (1, "heart rate")):
        for span_days in (1, 7, days - 4):
            reads.append(
                (
                    f"API 1-minute read, {name}, {span_days} day(s)",
                    partial(minute_read, metric_id=metric_id, span_days=span_days),
                )
            )
    view_sql = {
        "before": "SELECT * FROM data_1m_before WHERE user_id = 'M000' AND metric_name = 'steps' AND bucket >= %s AND bucket < %s",
        "after": "SELECT * FROM data_1m WHERE user_id = 'M000' AND metric_name = 'steps' AND bucket >= %s AND bucket < %s",
    }
    reads.append(
        (
            "data_1m view, steps, one participant-day",
            lambda lay: conns[lay].execute(view_sql[lay], (start, start + timedelta(days=1))).fetchall(),
        )
    )
    rules = AdherenceRules()
    now = datetime.fromtimestamp((DAY0_US + days * DAY * US) / US, tz=UTC)
    study = {lay: int(scalar(c, "SELECT id FROM studies WHERE name = 'minutes'")) for lay, c in conns.items()}
    reads.append(
        (
            "adherence summaries, whole cohort",
            lambda lay: read_summaries(conns[lay], study[lay], rules, now=now),
        )
    )
    reads.append(
        (
            "adherence days, whole cohort",
            lambda lay: read_days(conns[lay], study[lay], rules, start=None, end=None, now=now),
        )
    )
    # same answers first
    for label, fn in reads:
        answers = {}
        for lay in LAYOUTS:
            with layout(lay):
                answers[lay] = fn(lay)
        same = _comparable(answers["before"]) == _comparable(answers["after"])
        if not same:
            raise SystemExit(f"minute_layer: {label}: the two layouts answer differently")
    lines.append("")
    lines.append(
        f"{'median ms (answers identical in both layouts)':<46}{'before':>14}{'after':>14}{'after/before':>14}"
    )
    for label, fn in reads:
        times: dict[str, list[float]] = {lay: [] for lay in LAYOUTS}
        for _ in range(runs):  # alternate, so both see the same machine
            for lay in LAYOUTS:
                with layout(lay):
                    times[lay] += timed(partial(fn, lay), 1)
        row(label, statistics.median(times["before"]), statistics.median(times["after"]), "{:.2f}")
    return "\n".join(lines)


def _comparable(answer: object) -> object:
    """Answers as plain data, without what differs between two databases by construction (creation times)."""
    if isinstance(answer, np.ndarray):
        return answer.tolist()
    if isinstance(answer, dict):
        return {k: _comparable(v) for k, v in sorted(answer.items())}
    if isinstance(answer, (list, tuple)):
        return [_comparable(x) for x in answer]
    if hasattr(answer, "__dataclass_fields__"):
        fields = answer.__dataclass_fields__
        return {k: _comparable(getattr(answer, k)) for k in fields if k != "created_at"}
    return answer


if __name__ == "__main__":
    main()
