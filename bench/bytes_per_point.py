"""Measures the bytes one stored heart-rate point costs in the real schema and sets them beside
fitpipe.capacity's formula (heap, btree index, total), so docs/capacity.md's figures stay honest.

    DATABASE_URL=postgresql://... python bench/bytes_per_point.py [--rows 5000000] [--participants 8]

Creates the database fitpipe_bench_bpp on that server (the role needs CREATEDB), applies the
migrations, COPYs random-walk heart rate at 1 s day by day through the loader's binary COPY, runs
VACUUM ANALYZE, measures, and drops the database again. Nothing else on the server is touched.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

if __package__ in (None, ""):  # run as a script: make the checkout importable without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fitpipe.capacity import SAMPLE_ROW, SECONDS_PER_DAY
from fitpipe.catalog import get_metric
from fitpipe.db import connect, has_timescaledb, redact
from fitpipe.errors import ConflictError, FitpipeError
from fitpipe.migrations import migrate
from fitpipe.pgcopy import copy_samples
from fitpipe.settings import get_settings

BENCH_DATABASE = "fitpipe_bench_bpp"
DAY0_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z


@dataclass(frozen=True)
class Measurement:
    rows: int
    participants: int
    days: int
    chunks: int
    timescaledb: bool
    copy_seconds: float
    heap_bytes: int
    """Main fork of the table (all chunks): what the formula models."""
    table_bytes: int
    """Heap with its free-space and visibility maps, as hypertable_detailed_size / pg_table_size count it."""
    index_bytes: int
    total_bytes: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.copy_seconds


def heart_rate_walk(rng: np.random.Generator, n: int) -> np.ndarray:
    """n seconds of integer bpm from midnight, like a wrist sensor: a personal resting rate, a day-night
    swing and a mean-reverting random walk (AR(1), time constant ~3 min) on top."""
    rest = rng.uniform(55, 75)
    circadian = 8 * np.sin(2 * np.pi * (np.arange(n) / SECONDS_PER_DAY - 0.3))
    return np.clip(np.round(rest + circadian + _ar1(rng.normal(0, 0.8, n), phi=0.995)), 35, 200)


def _ar1(noise: np.ndarray, phi: float, block: int = 512) -> np.ndarray:
    """x[t] = phi * x[t-1] + noise[t], vectorized per block (phi**-block stays small, so no overflow)."""
    out = np.empty_like(noise)
    powers = phi ** np.arange(1, block + 1)
    last = 0.0
    for i0 in range(0, noise.size, block):
        e = noise[i0 : i0 + block]
        k = powers[: e.size]
        out[i0 : i0 + e.size] = k * (last + np.cumsum(e / k))  # x_j = phi^j x_0 + sum_i phi^(j-i) e_i
        last = out[i0 + e.size - 1]
    return out


def load_heart_rate(
    conn: psycopg.Connection, rows: int, participants: int, seed: int = 7
) -> tuple[int, float]:
    """COPY `rows` 1-second heart-rate points, spread evenly over `participants`, one (day, participant)
    batch at a time in a shuffled participant order, as nightly loads arrive. Returns (days, COPY seconds)."""
    rng = np.random.default_rng(seed)
    metric_id = get_metric("heart_rate").id
    remaining = {p: rows // participants + (p <= rows % participants) for p in range(1, participants + 1)}
    days = -(-max(remaining.values()) // SECONDS_PER_DAY)
    seconds = 0.0
    for day in range(days):
        for p in rng.permutation(participants) + 1:
            n = min(SECONDS_PER_DAY, remaining[int(p)])
            if n <= 0:
                continue
            remaining[int(p)] -= n
            ts = DAY0_US + day * SECONDS_PER_DAY * 1_000_000 + np.arange(n, dtype=np.int64) * 1_000_000
            values = heart_rate_walk(rng, n)  # each batch starts at midnight
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                copy_samples(cur, "samples", ts, values, int(p), metric_id)
            seconds += time.perf_counter() - started
    return days, seconds


def measure(conn: psycopg.Connection, rows: int, participants: int, seed: int = 7) -> Measurement:
    """Load into the empty `samples` table of a migrated database and measure what it occupies."""
    if conn.execute("SELECT EXISTS (SELECT 1 FROM samples)").fetchone() != (False,):
        raise ConflictError("the samples table is not empty", hint="measure on a freshly migrated database")
    days, copy_seconds = load_heart_rate(conn, rows, participants, seed)
    conn.execute("VACUUM ANALYZE samples")
    timescale = has_timescaledb(conn)
    if timescale:
        sizes = conn.execute(
            "SELECT (SELECT count(*) FROM show_chunks('samples')),"
            " (SELECT sum(pg_relation_size(c)) FROM show_chunks('samples') c),"
            " d.table_bytes, hypertable_index_size('samples_key'), d.total_bytes"
            " FROM hypertable_detailed_size('samples') d"
        ).fetchone()
        assert sizes is not None  # one row, as from any aggregate
        chunks, heap, table, index, total = sizes
    else:
        chunks = 1
        sizes = conn.execute(
            "SELECT pg_relation_size('samples'), pg_table_size('samples'), pg_indexes_size('samples'),"
            " pg_total_relation_size('samples')"
        ).fetchone()
        assert sizes is not None
        heap, table, index, total = sizes
    return Measurement(
        rows,
        participants,
        days,
        int(chunks),
        timescale,
        copy_seconds,
        int(heap),
        int(table),
        int(index),
        int(total),
    )


def report(m: Measurement) -> str:
    lines = [
        f"rows                {m.rows:,} heart-rate points at 1 s, {m.participants} participants,"
        f" {m.days} days, {m.chunks} {'chunks' if m.timescaledb else 'table (no TimescaleDB)'}",
        f"binary COPY         {m.rows_per_second / 1e6:.2f} M rows/s ({m.copy_seconds:.1f} s)",
        "",
        f"{'bytes per row':<28}{'measured':>10}{'formula':>10}{'ratio':>8}",
    ]
    for label, measured, formula in (
        ("heap (main fork)", m.heap_bytes / m.rows, SAMPLE_ROW.heap),
        ("heap + FSM + VM", m.table_bytes / m.rows, SAMPLE_ROW.heap),
        ("index samples_key", m.index_bytes / m.rows, SAMPLE_ROW.index),
        ("total", m.total_bytes / m.rows, SAMPLE_ROW.total),
    ):
        lines.append(f"{label:<28}{measured:>10.2f}{formula:>10.2f}{measured / formula:>8.3f}")
    return "\n".join(lines)


def _with_database(url: str, name: str) -> str:
    return make_conninfo(url, dbname=name)


@click.command()
@click.option("--rows", type=click.IntRange(min=1000), default=5_000_000, show_default=True)
@click.option("--participants", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def main(rows: int, participants: int, seed: int) -> None:
    """Measure bytes per stored point in a scratch database on DATABASE_URL's server."""
    url = get_settings().external_database_url()
    if not url:
        click.echo(
            "bytes_per_point: no database given; set DATABASE_URL to a PostgreSQL server whose role may"
            " CREATE DATABASE,\n  e.g. DATABASE_URL=$(FITPIPE_HOME=/tmp/bench fitpipe db url) after"
            " `FITPIPE_HOME=/tmp/bench fitpipe db start`",
            err=True,
        )
        raise SystemExit(2)
    try:
        with connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")
            try:
                with connect(_with_database(url, BENCH_DATABASE), autocommit=True) as conn:
                    migrate(conn)
                    click.echo(f"database {BENCH_DATABASE} on {redact(url)}", err=True)
                    result = measure(conn, rows, participants, seed)
            finally:
                admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    except FitpipeError as exc:
        click.echo(f"bytes_per_point: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    click.echo(report(result))


if __name__ == "__main__":
    main()
