"""API benchmark: read latencies over HTTP, export memory, and DuckDB on Parquet side by side, in one run.

    .venv/bin/python bench/api.py [--export-points 100000000] [--runs 50]

Uses the server of DATABASE_URL / DB_* or the embedded database; creates the scratch database
fitpipe_bench_api (dropped at the end unless --keep). Loads one participant with a year of 1 Hz heart
rate (31.5 M samples) and more participants until --export-points samples are stored, all through
fitpipe's loader, then starts `fitpipe serve api` as a separate process and measures over HTTP:
  1. one participant x 1 year at granularity=auto (the rollups answer)          target p50 <= 20 ms
  2. one participant-day at granularity=raw (86,400 points)
  3. peak RSS of the API process while it streams a Parquet export of every stored sample  target <= 200 MB
  4. DuckDB answering the same questions from that Parquet file (what an analyst would use instead)
Adherence for 1,000 participants x 30 days has its own benchmark: bench/adherence.py.

    .venv/bin/python bench/api.py --baseline DIR [--runs 1000]

compares this tree with another revision checked out in DIR (`git worktree add --detach DIR REV`): one API
process per tree on the same database, the requests of reads 1-3 alternating between them (the order flipped
every round), so both see the same machine load; prints p10/p50/p90 per tree and the ratio of the p50s.
Runs of the whole benchmark one after the other drift by a millisecond or two on a shared machine; this does not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import psutil
import psycopg
from one_row import scalar
from psycopg.conninfo import make_conninfo

from fitpipe.db import database_url, redact
from fitpipe.localtime import US_PER_DAY
from fitpipe.migrations import migrate
from fitpipe.participants import add_participant
from fitpipe.tokens import create_token
from fitpipe_ingest.load import FileIdentity, LoadOptions, PendingFile, load_files
from fitpipe_ingest.records import ParsedFile, SampleBatch

DB = "fitpipe_bench_api"
START_US = 1_704_067_200_000_000  # 2024-01-01T00:00Z
DAY_POINTS = 86_400
HERE = Path(__file__).resolve().parents[1]

_YEAR = {"user_id": "U001", "metric": "heart_rate", "start_date": "2024-01-01", "end_date": "2024-12-30"}
_DAY = {"user_id": "U001", "metric": "heart_rate", "start_date": "2024-06-01", "end_date": "2024-06-01"}
READS = [
    ("1 participant x 1 year, granularity=auto", {**_YEAR, "granularity": "auto"}, 1),
    ("1 participant x 1 year, granularity=1h", {**_YEAR, "granularity": "1h"}, 1),
    ("1 participant-day, granularity=raw", {**_DAY, "granularity": "raw"}, 5),
]
"""The reads measured: label, query, and the divisor of --runs (the raw day is ten times slower)."""


def _with_db(url: str, name: str) -> str:
    return make_conninfo(url, dbname=name)


def _fill(url: str, participants: int, days: int) -> int:
    """Load `days` of 1 Hz heart rate for each participant through the loader, 30 days per transaction."""
    rng = np.random.default_rng(3)
    stored = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(participants):
            p, _ = add_participant(conn, f"U{i + 1:03d}", "bench", timezone="UTC")
            for first in range(0, days, 30):
                pending = []
                for day in range(first, min(days, first + 30)):
                    ts = START_US + day * US_PER_DAY + np.arange(DAY_POINTS, dtype=np.int64) * 1_000_000
                    value = np.clip(70 + np.cumsum(rng.integers(-1, 2, DAY_POINTS)), 40, 190).astype(
                        np.float64
                    )
                    name = f"U{i + 1:03d}/day-{day}.json"
                    batch = SampleBatch("heart_rate", ts, value, name)
                    pending.append(
                        PendingFile(
                            ParsedFile(name, "bench", [batch]), {None: p}, FileIdentity(name, 0, name)
                        )
                    )
                load_files(conn, pending, LoadOptions(source="bench", lag=timedelta(days=3)))
                stored += len(pending) * DAY_POINTS
            print(f"  participant {i + 1}/{participants}: {stored:,} samples stored", file=sys.stderr)
    return stored


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(
    client: httpx.Client, url: str, params: Mapping[str, str | int | float], runs: int
) -> tuple[float, float, int]:
    times, points = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        r = client.get(url, params=params)
        r.raise_for_status()
        times.append(time.perf_counter() - started)
        points = sum(s["points"] for s in r.json()["series"])
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * (len(times) - 1))] * 1000, points


def _serve(tree: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    """`fitpipe serve api` of the tree at `tree` (this one, or a baseline checkout put first on the path)."""
    # two malloc arenas (as the Dockerfile sets): threads otherwise keep freed memory in arenas of their own
    # the benchmark database's superuser login, allowed explicitly: privileges do not change the timings
    env = dict(
        os.environ,
        DATABASE_URL=url,
        FITPIPE_API_ALLOW_SUPERUSER="true",
        MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"),
    )
    if tree != HERE:
        folders = [tree, *(tree / d for d in ("ingest_job", "api", "dashboard", "operator"))]
        env["PYTHONPATH"] = os.pathsep.join(str(f) for f in folders)
    return subprocess.Popen(
        [sys.executable, "-m", "fitpipe.cli", "serve", "api", "--port", str(port)],
        env=env,
        cwd=tree,  # `-m` puts the working directory first on the path
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _compare(baseline: Path, url: str, token: str, runs: int) -> None:
    """Reads 1-3 against this tree and the baseline, interleaved request by request."""
    trees = {"baseline": baseline, "this tree": HERE}
    apis, clients = [], []
    try:
        for tree in trees.values():
            port = _free_port()
            apis.append(_serve(tree, url, port))
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=600
            )
            clients.append(client)
            _wait_ready(client)
        print(f"\n### API reads, {baseline} vs this tree ({runs} requests each, interleaved)\n")
        print("| request | tree | p10 ms | p50 ms | p90 ms | p50 vs baseline |")
        print("|---|---|---:|---:|---:|---:|")
        for label, params, n in READS:
            times: list[list[float]] = [[] for _ in clients]
            for client in clients:  # warm both: first requests load modules and fill caches
                for _ in range(10):
                    client.get("/api/v1/timeseries", params=params).raise_for_status()
            n = max(10, runs // n)
            for i in range(n):
                for k in range(len(clients)) if i % 2 == 0 else reversed(range(len(clients))):
                    started = time.perf_counter()
                    clients[k].get("/api/v1/timeseries", params=params).raise_for_status()
                    times[k].append((time.perf_counter() - started) * 1000)
            p50s = [statistics.median(t) for t in times]
            for name, t, p50 in zip(trees, times, p50s, strict=True):
                t.sort()
                print(
                    f"| {label} | {name} | {t[len(t) // 10]:.2f} | {p50:.2f} | {t[9 * len(t) // 10]:.2f} "
                    f"| {p50 / p50s[0]:.3f} |"
                )
    finally:
        for api in apis:
            api.terminate()
        for api in apis:
            api.wait(timeout=20)


def _wait_ready(client: httpx.Client) -> None:
    for _ in range(150):
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API did not become ready")


class PeakRss:
    """Samples a process's RSS every 50 ms (the kernel's VmHWM would include start-up)."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--export-points", type=int, default=100_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (and reuse it next time)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another revision: compare its API with this tree's, requests interleaved",
    )
    args = parser.parse_args()

    server = database_url()
    admin = _with_db(server, "postgres")
    url = _with_db(server, DB)
    print(f"server: {redact(server)}", file=sys.stderr)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DB}")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            stored = scalar(conn, "SELECT coalesce(sum(count), 0) FROM rollup_1d")
        if stored < args.export_points:
            days = 365
            participants = -(-args.export_points // (days * DAY_POINTS))
            print(f"loading {participants} participants x {days} days of 1 Hz heart rate …", file=sys.stderr)
            started = time.perf_counter()
            stored = _fill(url, participants, days)
            print(f"  loaded {stored:,} samples in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            _, token = create_token(conn, name="bench", role="admin", studies=[], all_studies=True)

        if args.baseline:
            _compare(args.baseline.resolve(), url, token, args.runs)
            return
        port = _free_port()
        api = _serve(HERE, url, port)
        try:
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=600
            )
            _wait_ready(client)
            (y50, y95, ypoints), (h50, h95, hpoints), (d50, d95, dpoints) = (
                _timed(client, "/api/v1/timeseries", params, max(10, args.runs // n))
                for _, params, n in READS
            )

            # the export runs in a fresh API process, so its peak is not inflated by the requests above
            api.terminate()
            api.wait(timeout=20)
            api = _serve(HERE, url, port)
            _wait_ready(client)
            with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
                parquet = Path(tmp) / "export.parquet"
                users = [f"U{i + 1:03d}" for i in range(-(-stored // (365 * DAY_POINTS)))]
                baseline = psutil.Process(api.pid).memory_info().rss
                started = time.perf_counter()
                with (
                    PeakRss(api.pid) as rss,
                    parquet.open("wb") as out,
                    client.stream(
                        "GET",
                        "/api/v1/timeseries",
                        params={
                            "user_id": users,
                            "metric": "heart_rate",
                            "start_date": "2024-01-01",
                            "end_date": "2024-12-31",
                            "granularity": "raw",
                            "format": "parquet",
                        },
                    ) as r,
                ):
                    r.raise_for_status()
                    for chunk in r.iter_bytes(1 << 20):
                        out.write(chunk)
                export_s = time.perf_counter() - started
                size_gb = parquet.stat().st_size / 1e9

                import duckdb

                duck = duckdb.connect()
                src = f"read_parquet('{parquet}')"
                counted = duck.execute(f"SELECT count(*) FROM {src}").fetchone()
                assert counted is not None
                exported = counted[0]

                def duck_time(sql: str, runs: int = 5) -> float:
                    times = []
                    for _ in range(runs):
                        started = time.perf_counter()
                        duck.execute(sql).fetchall()
                        times.append(time.perf_counter() - started)
                    return statistics.median(times) * 1000

                duck_daily = duck_time(
                    f"SELECT date_trunc('day', t) d, avg(v), min(v), max(v), count(*) FROM {src} "
                    "WHERE user_id = 'U001' GROUP BY d ORDER BY d"
                )
                duck_hourly = duck_time(
                    f"SELECT date_trunc('hour', t) h, avg(v), min(v), max(v), count(*) FROM {src} "
                    "WHERE user_id = 'U001' GROUP BY h ORDER BY h"
                )
                duck_day_raw = duck_time(
                    f"SELECT t, v FROM {src} WHERE user_id = 'U001' AND t >= TIMESTAMPTZ '2024-06-01' "
                    "AND t < TIMESTAMPTZ '2024-06-02' ORDER BY t"
                )
        finally:
            api.terminate()
            api.wait(timeout=20)
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")

    print(f"\n### API reads over HTTP ({stored:,} samples stored; p50/p95 of {args.runs} requests)\n")
    print("| request | points | p50 ms | p95 ms | DuckDB on Parquet, ms | target |")
    print("|---|---:|---:|---:|---:|---|")
    print(
        f"| 1 participant x 1 year, granularity=auto | {ypoints:,} | {y50:.1f} | {y95:.1f} | {duck_daily:.0f} (daily group-by) | p50 <= 20 ms |"
    )
    print(
        f"| 1 participant x 1 year, granularity=1h | {hpoints:,} | {h50:.1f} | {h95:.1f} | {duck_hourly:.0f} (hourly group-by) | faster than DuckDB |"
    )
    print(
        f"| 1 participant-day, granularity=raw | {dpoints:,} | {d50:.1f} | {d95:.1f} | {duck_day_raw:.0f} (filter) | |"
    )
    print(
        f"\n### Parquet export of every sample ({exported:,} rows, {size_gb:.2f} GB, {export_s:.0f} s, "
        f"{exported / export_s:,.0f} rows/s)\n"
    )
    print(
        f"API process RSS: {baseline / 1e6:.0f} MB before, peak {rss.peak / 1e6:.0f} MB during the export "
        f"(+{(rss.peak - baseline) / 1e6:.0f} MB); target <= 200 MB."
    )


if __name__ == "__main__":
    main()
