"""Ingest benchmark: fitpipe's end-to-end load next to raw binary COPY and a naive row-by-row INSERT, same rows, one run.

    .venv/bin/python bench/ingest.py [--days 30] [--history-days 365] [--naive-rows 50000]

Uses the database server of DATABASE_URL / DB_* or the embedded one (`fitpipe db start`); creates and
drops scratch databases fitpipe_bench_* on it. Prints a markdown table (paste it into docs/benchmarks.md).
Measures:
  1. raw COPY    psycopg binary COPY (write_row, set_types) of the parsed rows into the indexed samples hypertable
  2. fitpipe     `fitpipe ingest` of the wearipedia directory: parse + validate + COPY + rollups + cursor + manifest
  3. naive       executemany INSERT, row by row, of the first --naive-rows rows (rate extrapolated)
  4. day 1 vs day N+1: loading one day into an empty database vs into one that holds N days
  5. bytes per stored sample (heap + index of samples; rollups separately)
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from one_row import one, scalar
from psycopg.conninfo import make_conninfo

from fitpipe.db import database_url, redact
from fitpipe.localtime import US_PER_DAY
from fitpipe.migrations import migrate
from fitpipe.participants import Participant, add_participant
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.pipeline.files import ingest_path
from fitpipe_ingest.records import ParseContext, ParsedFile, SampleBatch
from fitpipe_ingest.sources.wearipedia import SOURCE as WEARIPEDIA
from fitpipe_ingest.tree import open_tree

TZ = "UTC"


def _load_generator() -> Callable[[Path, int], int]:
    spec = importlib.util.spec_from_file_location(
        "parse_wearipedia", Path(__file__).with_name("parse_wearipedia.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_heart_rate


class Scratch:
    """Fresh migrated databases on the benchmark server, dropped at the end."""

    def __init__(self, url: str) -> None:
        self.admin = self._with_db(url, "postgres")
        self.created: list[str] = []

    @staticmethod
    def _with_db(url: str, name: str) -> str:
        return make_conninfo(url, dbname=name)

    def new(self) -> str:
        name = f"fitpipe_bench_{len(self.created)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        self.created.append(name)
        url = self._with_db(self.admin, name)
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            add_participant(conn, "B1", "bench", timezone=TZ)
        return url

    def drop_all(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def participant_of(conn: psycopg.Connection) -> Participant:
    from fitpipe.participants import get_participant

    return get_participant(conn, "B1", "bench")


def parsed_rows(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    tree = open_tree(directory)
    parsed = WEARIPEDIA.parse(tree, "heart_rate.csv", ParseContext(ZoneInfo(TZ)))
    batch = next(b for b in parsed.batches if b.metric == "heart_rate")
    return batch.ts, batch.value


def bench_raw_copy(url: str, ts: np.ndarray, value: np.ndarray) -> float:
    from datetime import UTC, datetime

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rows = [(epoch + timedelta(microseconds=int(t)), float(v), 1, 1) for t, v in zip(ts, value, strict=True)]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(
            "COPY samples (ts, value, participant_id, metric_id) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["timestamptz", "float8", "int4", "int2"])
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def bench_fitpipe(url: str, directory: Path) -> tuple[float, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        who = participant_of(conn)
        started = time.perf_counter()
        summary = ingest_path(
            conn,
            directory,
            participant=who,
            fmt="wearipedia",
            options_for=lambda s: LoadOptions(source=s, lag=timedelta(days=3)),
        )
        seconds = time.perf_counter() - started
    return seconds, summary.by_metric()[("heart_rate", "wearipedia")].new


def bench_naive(url: str, ts: np.ndarray, value: np.ndarray, n: int) -> float:
    from datetime import UTC, datetime

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rows = [
        (epoch + timedelta(microseconds=int(t)), float(v), 1, 1)
        for t, v in zip(ts[:n], value[:n], strict=True)
    ]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for row in rows:  # what a straightforward implementation does: one INSERT per sample
            cur.execute(
                "INSERT INTO samples (ts, value, participant_id, metric_id) VALUES (%s, %s, %s, %s)", row
            )
        conn.commit()
        return time.perf_counter() - started


def _day_batch(day: int, rng: np.random.Generator) -> SampleBatch:
    t0 = 1_704_067_200_000_000 + day * US_PER_DAY  # 2024-01-01 UTC
    ts = t0 + np.arange(86_400, dtype=np.int64) * 1_000_000
    value = np.clip(75 + np.cumsum(rng.integers(-1, 2, 86_400)), 40, 190).astype(np.float64)
    return SampleBatch("heart_rate", ts, value, f"day-{day}.json")


def _load_days(
    conn: psycopg.Connection, participant: Participant, days: range, rng: np.random.Generator
) -> list[float]:
    times = []
    for day in days:
        batch = _day_batch(day, rng)
        started = time.perf_counter()
        load_parsed_file(
            conn,
            ParsedFile(batch.file, "bench", [batch]),
            {None: participant},
            FileIdentity(batch.file, 1, batch.file),
            LoadOptions(source="bench"),
        )
        times.append(time.perf_counter() - started)
    return times


def bench_growth(url: str, history_days: int, probe_days: int = 3) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    with psycopg.connect(url, autocommit=True) as conn:
        who = participant_of(conn)
        first = _load_days(conn, who, range(probe_days), rng)
        print(f"  filling {history_days} days of 1 Hz history …", file=sys.stderr)
        started = time.perf_counter()
        _load_days(conn, who, range(probe_days, history_days), rng)
        print(f"  filled in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        conn.execute("VACUUM ANALYZE samples")
        later = _load_days(conn, who, range(history_days, history_days + probe_days), rng)
    return statistics.median(first), statistics.median(later)


def bytes_per_sample(url: str) -> tuple[float, float, float, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE samples")
        n = scalar(conn, "SELECT count(*) FROM samples")
        timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        if timescale:
            table, index, _toast, total = one(
                conn,
                "SELECT table_bytes, index_bytes, toast_bytes, total_bytes FROM hypertable_detailed_size('samples')",
            )
            rollups = sum(
                scalar(conn, f"SELECT hypertable_size('{t}')") or 0
                for t in ("rollup_1m", "rollup_1h", "rollup_1d")
            )
        else:
            table = scalar(conn, "SELECT pg_relation_size('samples')")
            index = scalar(conn, "SELECT pg_indexes_size('samples')")
            rollups = sum(
                scalar(conn, f"SELECT pg_total_relation_size('{t}')")
                for t in ("rollup_1m", "rollup_1h", "rollup_1d")
            )
    return table / n, index / n, rollups / n, n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30, help="days of 1 Hz heart rate in the wearipedia file")
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--naive-rows", type=int, default=50_000)
    args = parser.parse_args()

    url = database_url()
    scratch = Scratch(url)
    print(f"server: {redact(url)}", file=sys.stderr)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            points = _load_generator()(directory / "heart_rate.csv", args.days)
            size_mb = (directory / "heart_rate.csv").stat().st_size / 1e6
            print(f"wrote {points:,} points ({size_mb:,.0f} MB) of wearipedia heart rate", file=sys.stderr)
            ts, value = parsed_rows(directory)

            print("raw COPY …", file=sys.stderr)
            raw_s = bench_raw_copy(scratch.new(), ts, value)
            print("fitpipe ingest …", file=sys.stderr)
            fitpipe_url = scratch.new()
            fit_s, new = bench_fitpipe(fitpipe_url, directory)
            assert new == points, f"fitpipe stored {new} of {points} points"
            print("naive INSERT …", file=sys.stderr)
            naive_s = bench_naive(scratch.new(), ts, value, args.naive_rows)
        heap, index, rollups, stored = bytes_per_sample(fitpipe_url)
        print("day 1 vs later …", file=sys.stderr)
        day1, later = bench_growth(scratch.new(), args.history_days)
    finally:
        scratch.drop_all()

    raw_rate, fit_rate, naive_rate = points / raw_s, points / fit_s, args.naive_rows / naive_s
    print(f"\n### Ingest: {points:,} heart-rate points ({args.days} days at 1 Hz), same rows, one run\n")
    print("| path | seconds | rows/s | vs raw COPY | vs naive |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| raw binary COPY (psycopg write_row) into the indexed hypertable | {raw_s:.1f} | {raw_rate:,.0f} | 1.00 | {raw_rate / naive_rate:.0f}x |"
    )
    print(
        f"| fitpipe ingest: parse + validate + COPY + rollups + cursor | {fit_s:.1f} | {fit_rate:,.0f} | {fit_rate / raw_rate:.2f} | {fit_rate / naive_rate:.0f}x |"
    )
    print(
        f"| naive row-by-row INSERT ({args.naive_rows:,} rows, extrapolated) | {naive_s * points / args.naive_rows:.0f} | {naive_rate:,.0f} | {naive_rate / raw_rate:.3f} | 1x |"
    )
    print(
        f"\nTargets: fitpipe >= 0.5x raw COPY ({fit_rate / raw_rate:.2f}); >= 30x naive ({fit_rate / naive_rate:.0f}x); "
        f"{args.days} days in <= 15 s ({fit_s:.1f} s).\n"
    )
    print(
        f"### Loading one day (86,400 points) into an empty database vs one holding {args.history_days} days\n"
    )
    print("| database | median seconds (3 days) |")
    print("|---|---:|")
    print(f"| empty (days 1-3) | {day1:.3f} |")
    print(
        f"| holding {args.history_days} days (days {args.history_days + 1}-{args.history_days + 3}) | {later:.3f} |"
    )
    print(f"\nRatio {later / day1:.2f} (target <= 1.2).\n")
    print(f"### Bytes per stored sample ({stored:,} samples)\n")
    print(
        f"heap {heap:.1f} B + index {index:.1f} B = {heap + index:.1f} B per sample; rollups add {rollups:.1f} B per sample."
    )


if __name__ == "__main__":
    main()
