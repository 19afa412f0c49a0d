"""Streaming benchmark: a merged Fitabase heartrate_seconds_merged.csv of a whole study (2 GB by default, many
participants, `Id` mapped to participants), loaded by `fitpipe ingest`, next to a raw binary COPY of the same
rows, side by side in one run.

    nice -n 10 .venv/bin/python bench/fitabase_stream.py [--gigabytes 2] [--participants 100] [--keep FILE]

Uses the database server of DATABASE_URL / DB_* or the embedded one (`fitpipe db start`); creates and drops
scratch databases fitpipe_bench_stream_*; writes the CSV to a temporary directory and deletes it (and the
databases) at the end. Each measured load runs in a process of its own, which reports its peak RSS.
Prints a markdown table (paste it into docs/benchmarks.md). Targets: peak RSS <= 400 MB for the ingest,
throughput >= 0.3x the raw COPY's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

from fitpipe.db import database_url, redact
from fitpipe.migrations import migrate
from fitpipe.participants import add_participant

STUDY = "bench"
ZONE = "America/Chicago"
STEP = 5  # seconds between samples, Fitabase's usual cadence
PER_DAY = 86_400 // STEP
FIRST_ID = 1_503_960_366
START = date(2016, 4, 12)


def _clock_texts() -> list[str]:
    out = []
    for s in range(0, 86_400, STEP):
        h, m, sec = s // 3600, s // 60 % 60, s % 60
        out.append(f"{h % 12 or 12}:{m:02d}:{sec:02d} {'AM' if h < 12 else 'PM'}")
    return out


def days_for(gigabytes: float, participants: int) -> int:
    line = len(f"{FIRST_ID},4/12/2016 12:00:00 AM,72\r\n")
    return max(1, round(gigabytes * 1e9 / line / PER_DAY / participants))


def _day_values(rng: np.random.Generator) -> np.ndarray:
    return np.clip(70 + np.cumsum(rng.integers(-2, 3, PER_DAY)), 45, 185)


def rows(participants: int, days: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """(participant index, day, local seconds since 1970, values) in the file's order: by Id, then time."""
    epoch = date(1970, 1, 1)
    for p in range(participants):
        rng = np.random.default_rng(p)
        for d in range(days):
            base = (START + timedelta(days=d) - epoch).days * 86_400
            yield p, d, base + np.arange(0, 86_400, STEP, dtype=np.int64), _day_values(rng)


def write_csv(path: Path, participants: int, days: int) -> int:
    clock = _clock_texts()
    values = [str(v) for v in range(256)]
    written = 0
    with path.open("w", newline="") as fh:
        fh.write("Id,Time,Value\r\n")
        for p, d, _, vals in rows(participants, days):
            day = START + timedelta(days=d)
            prefix = f"{FIRST_ID + p},{day.month}/{day.day}/{day.year} "
            fh.write(
                "".join(f"{prefix}{c},{values[v]}\r\n" for c, v in zip(clock, vals.tolist(), strict=True))
            )
            written += PER_DAY
        fh.write("\r\n")  # as Fitabase writes it
    return written


class Scratch:
    def __init__(self, url: str) -> None:
        self.admin = make_conninfo(url, dbname="postgres")
        self.created: list[str] = []

    def new(self, participants: int) -> str:
        name = f"fitpipe_bench_stream_{len(self.created)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        self.created.append(name)
        url = make_conninfo(self.admin, dbname=name)
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            for p in range(participants):
                add_participant(conn, str(FIRST_ID + p), STUDY, timezone=ZONE)
        return url

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- the measured loads, each in a process of its own ---------------------------------------------------


def child_fitpipe(url: str, path: str) -> dict[str, float]:
    from zoneinfo import ZoneInfo

    from fitpipe_ingest.pipeline import ingest_input

    started = time.perf_counter()
    outcome = ingest_input(
        url, Path(path), participant=None, study=STUDY, fmt="fitabase", timezone=ZoneInfo(ZONE)
    )
    seconds = time.perf_counter() - started
    total = outcome.summary.total()
    assert outcome.status == "success", outcome.errors
    return {"seconds": seconds, "new": total.new, "quarantined": total.quarantined}


def child_raw_copy(url: str, participants: int, days: int) -> dict[str, float]:
    """The same rows (UTC instants from the same local times) by binary COPY, packed with numpy: the server's
    speed with a client that costs nothing."""
    from zoneinfo import ZoneInfo

    from fitpipe.localtime import local_to_utc_us
    from fitpipe.pgcopy import copy_samples

    zone = ZoneInfo(ZONE)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        ids: dict[str, int] = dict(cur.execute("SELECT external_id, id FROM participants").fetchall())
        started = time.perf_counter()
        count = 0
        for p, _, local_s, values in rows(participants, days):
            utc, _ = local_to_utc_us(local_s * 1_000_000, zone)
            copy_samples(cur, "samples", utc, values.astype(np.float64), ids[str(FIRST_ID + p)], 1)
            count += values.size
        conn.commit()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "new": count}


def run_child(kind: str, url: str, *args: str) -> dict[str, float]:
    """The URL goes by environment, not argv: a password must not show in the process list."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BENCH_DATABASE_URL": url},
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(kind: str, args: list[str]) -> None:
    url = os.environ["BENCH_DATABASE_URL"]
    result = (
        child_fitpipe(url, args[0]) if kind == "fitpipe" else child_raw_copy(url, int(args[0]), int(args[1]))
    )
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gigabytes", type=float, default=2.0, help="size of the generated CSV")
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument(
        "--keep", type=Path, help="write the CSV here and keep it (default: a temporary file)"
    )
    args = parser.parse_args()

    url = database_url()
    scratch = Scratch(url)
    days = days_for(args.gigabytes, args.participants)
    print(f"server: {redact(url)}; {args.participants} participants x {days} days", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep.parent if args.keep else Path(tmp)
        path = args.keep or folder / "heartrate_seconds_merged.csv"
        try:
            started = time.perf_counter()
            n = write_csv(path, args.participants, days)
            size = path.stat().st_size
            print(
                f"wrote {n:,} rows, {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            print("raw COPY …", file=sys.stderr)
            raw = run_child("raw", scratch.new(args.participants), str(args.participants), str(days))
            scratch.drop()
            print("fitpipe ingest …", file=sys.stderr)
            fit = run_child("fitpipe", scratch.new(args.participants), str(path))
        finally:
            scratch.drop()
            if not args.keep and path.exists():
                path.unlink()
    assert raw["new"] == n and fit["new"] == n, (raw, fit, n)
    raw_rate, fit_rate = n / raw["seconds"], n / fit["seconds"]
    print(
        f"\n### Fitabase streaming: {n:,} heart-rate rows, {size / 1e9:.2f} GB, {args.participants} participants\n"
    )
    print("| path | seconds | rows/s | vs raw COPY | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| raw binary COPY of the same rows (numpy-packed) into the indexed hypertable | {raw['seconds']:.0f} | "
        f"{raw_rate:,.0f} | 1.00 | {raw['peak_rss_mb']:.0f} MB |"
    )
    print(
        f"| `fitpipe ingest` (read in chunks, parse, validate, COPY, rollups, cursors, manifest, hash) | "
        f"{fit['seconds']:.0f} | {fit_rate:,.0f} | {fit_rate / raw_rate:.2f} | {fit['peak_rss_mb']:.0f} MB |"
    )
    print(
        f"\nTargets: peak RSS <= 400 MB ({fit['peak_rss_mb']:.0f} MB); >= 0.3x raw COPY ({fit_rate / raw_rate:.2f}x). "
        f"Chunk: FITPIPE_INGEST_CHUNK_BYTES={os.environ.get('FITPIPE_INGEST_CHUNK_BYTES', 16 << 20)}."
    )


if __name__ == "__main__":
    main()
