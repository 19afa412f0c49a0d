"""API load benchmark: mixed realistic reads from 25/50/100/200 concurrent clients, bounded in time, on loopback.

    .venv/bin/python bench/load.py [--clients 25,50,100,200] [--seconds 30] [--participants 20] [--days 60]
                                   [--workers 1] [--keep]

Uses the server of DATABASE_URL / DB_* or the embedded database; creates the scratch database fitpipe_bench_load
(dropped at the end unless --keep). Loads a cohort through fitpipe's loader (heart rate every 5 s with time off
the wrist, steps per minute, a main sleep most nights; enrolled for --days up to yesterday), then starts
`fitpipe serve api` with its default capacity settings as a separate process and measures:
  1. ten parallel CSV exports (one week of raw heart rate each): every one complete, with every row;
  2. for each number of clients, --seconds of closed-loop load (no think time), each client repeating one of
       - the dashboard's cohort page (participants, and 30 days of adherence for the heat map)  25 %
       - a participant's drill-down (participant, 7 days of heart rate, 30 daily trends, sleep)  45 %
       - a study's adherence over a 14-day window with valid hours                                20 %
       - an export (one participant-day of raw heart rate as CSV)                                 10 %
     A client that gets 503 waits Retry-After seconds, as a client should, then starts a new page.
     Printed: throughput, p50/p95/p99 of every answer, p95 of the served ones, the slowest answer, answers
     by status, and the load average of the machine before and after;
  3. after each level: how long until a participant request is back to its idle latency.
With --baseline-src DIR (a tree of an older commit: `git archive <commit> | tar -x -C DIR`) the same
measurements run against that tree's API afterwards, on the same data, and a side-by-side table follows.
Targets (issue 11): 0 errors and p95 <= 500 ms at 50 clients; at 200 clients every request answered within
5 s (served, or 503 with Retry-After) and p95 of the served <= 2 s; normal latency within 5 s of the load
stopping; the ten exports complete.

The load generator is a small asyncio HTTP/1.1 client (keep-alive, Content-Length and chunked bodies) in this
process: it costs far less CPU per request than a general-purpose client, so the server gets the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import psycopg
from one_row import one, scalar
from psycopg.conninfo import make_conninfo

from fitpipe.catalog import BY_NAME
from fitpipe.db import database_url, redact
from fitpipe.localtime import US_PER_DAY
from fitpipe.migrations import migrate
from fitpipe.participants import add_participant
from fitpipe.tokens import create_token
from fitpipe_ingest.load import FileIdentity, LoadOptions, PendingFile, load_files
from fitpipe_ingest.records import ParsedFile, SampleBatch

DB = "fitpipe_bench_load"
STUDY = "load"
ZONES = ("UTC", "Europe/London", "America/New_York", "Asia/Kolkata")
HR_EVERY_S = 5
ANSWER_WITHIN_S = 5.0
HEART_RATE = BY_NAME["heart_rate"].id


# --- the cohort --------------------------------------------------------------------------------------------


def _with_db(url: str, name: str) -> str:
    return make_conninfo(url, dbname=name)


def _fill(url: str, participants: int, days: int, first: date) -> int:
    """Heart rate every 5 s while worn (14-20 h a day), steps per minute while awake, main sleep most nights."""
    rng = np.random.default_rng(11)
    stored = 0
    t0_us = int(datetime.combine(first, datetime.min.time(), tzinfo=UTC).timestamp() * 1_000_000)
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(participants):
            zone = ZONES[i % len(ZONES)]
            p, _ = add_participant(conn, f"L{i + 1:03d}", STUDY, timezone=zone, email=f"l{i + 1}@example.org")
            conn.execute(
                "UPDATE participants SET enrolment_start = %s::date::timestamp AT TIME ZONE timezone WHERE id = %s",
                (first, p.id),
            )
            pending = []
            for day in range(days):
                base = t0_us + day * US_PER_DAY
                worn_h = rng.uniform(14, 20)
                off = rng.uniform(0, 24 - worn_h)
                secs = np.arange(0, 86_400, HR_EVERY_S, dtype=np.int64)
                secs = secs[(secs < off * 3600) | (secs >= (off + 24 - worn_h) * 3600)]
                hr = np.clip(62 + np.cumsum(rng.integers(-2, 3, secs.size)) * 0.2, 40, 180).astype(np.float64)
                minutes = np.arange(7 * 60, 23 * 60, dtype=np.int64) * 60
                steps = rng.poisson(12, minutes.size).astype(np.float64)
                name = f"L{i + 1:03d}/day-{day}.json"
                pending.append(
                    PendingFile(
                        ParsedFile(
                            name,
                            "bench",
                            [
                                SampleBatch("heart_rate", base + secs * 1_000_000, hr, name),
                                SampleBatch("steps", base + minutes * 1_000_000, steps, name),
                            ],
                        ),
                        {None: p},
                        FileIdentity(name, 0, name),
                    )
                )
                stored += secs.size + minutes.size
                if rng.random() < 0.85:
                    night = first + timedelta(days=day)
                    conn.execute(
                        """INSERT INTO sleep_sessions (participant_id, start_time, end_time, local_date, is_main_sleep,
                                                       minutes_asleep, source)
                           VALUES (%s, (%s::date::timestamp AT TIME ZONE %s) - interval '1 hour',
                                   (%s::date::timestamp AT TIME ZONE %s) + interval '6 hours 30 minutes', %s, true,
                                   420, 'bench') ON CONFLICT DO NOTHING""",
                        (p.id, night, zone, night, zone, night),
                    )
                if len(pending) == 30 or day == days - 1:
                    load_files(conn, pending, LoadOptions(source="bench", lag=timedelta(days=3)))
                    pending = []
            print(f"  participant {i + 1}/{participants}: {stored:,} samples stored", file=sys.stderr)
    return stored


# --- a small HTTP/1.1 client --------------------------------------------------------------------------------


@dataclass
class Answer:
    kind: str
    status: int  # 0: no answer (connection error or client timeout)
    seconds: float
    retry_after: str | None
    reason: str | None
    rows: int


class Connection:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            self.close()
        return status, headers, body


# --- the mix ------------------------------------------------------------------------------------------------


@dataclass
class Mix:
    users: list[str]
    yesterday: date

    def q(self, path: str, **params: object) -> str:
        return path + "?" + urlencode(params, doseq=True)

    def page(self, rng: random.Random) -> tuple[str, list[str]]:
        d = self.yesterday
        u = rng.choice(self.users)
        roll = rng.random()
        if roll < 0.25:
            return "cohort page", [
                self.q("/api/v1/participants", study=STUDY),
                self.q("/api/v1/adherence", study=STUDY, start_date=d - timedelta(days=29), end_date=d),
            ]
        if roll < 0.70:
            return "drill-down", [
                self.q(f"/api/v1/participants/{u}"),
                self.q(
                    "/api/v1/timeseries",
                    user_id=u,
                    metric="heart_rate",
                    start_date=d - timedelta(days=6),
                    end_date=d,
                ),
                self.q(
                    "/api/v1/timeseries",
                    user_id=u,
                    metric=["heart_rate", "steps"],
                    granularity="1d",
                    start_date=d - timedelta(days=29),
                    end_date=d,
                ),
                self.q("/api/v1/sleep", user_id=u, start_date=d - timedelta(days=29), end_date=d),
            ]
        if roll < 0.90:
            start = d - timedelta(days=rng.randrange(14, 40))
            return "adherence", [
                self.q(
                    "/api/v1/adherence",
                    study=STUDY,
                    start_date=start,
                    end_date=start + timedelta(days=13),
                    valid_hours="true",
                )
            ]
        day = d - timedelta(days=rng.randrange(1, 30))
        return "export", [
            self.q(
                "/api/v1/timeseries",
                user_id=u,
                metric="heart_rate",
                granularity="raw",
                format="csv",
                start_date=day,
                end_date=day,
            )
        ]


async def _request(conn: Connection, kind: str, path: str, timeout: float) -> Answer:
    t0 = time.perf_counter()
    try:
        status, headers, body = await asyncio.wait_for(conn.get(path), timeout)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        conn.close()
        return Answer(kind, 0, time.perf_counter() - t0, None, None, 0)
    seconds = time.perf_counter() - t0
    reason = None
    if status == 503:
        reason = "busy" if b'"busy"' in body else "timeout" if b'"timeout"' in body else "unavailable"
    rows = body.count(b"\n") - 1 if headers.get("content-type", "").startswith("text/csv") else 0
    return Answer(kind, status, seconds, headers.get("retry-after"), reason, rows)


async def _client(
    host: str, port: int, token: str, mix: Mix, seed: int, deadline: float, timeout: float, out: list[Answer]
) -> None:
    rng = random.Random(seed)
    conn = Connection(host, port, token)
    try:
        while time.perf_counter() < deadline:
            kind, paths = mix.page(rng)
            for path in paths:
                if time.perf_counter() >= deadline:
                    break
                answer = await _request(conn, kind, path, timeout)
                out.append(answer)
                if answer.status == 503:
                    await asyncio.sleep(float(answer.retry_after or 1))
                    break
                if answer.status == 0:
                    await asyncio.sleep(0.1)
                    break
    finally:
        conn.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class Level:
    clients: int
    seconds: float
    answers: list[Answer]
    load_before: float
    load_after: float
    recovery_s: float | None = None
    statuses: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for a in self.answers:
            self.statuses[
                "no answer" if a.status == 0 else f"503 {a.reason}" if a.status == 503 else str(a.status)
            ] += 1

    @property
    def served(self) -> list[float]:
        return [a.seconds for a in self.answers if a.status == 200]

    @property
    def all(self) -> list[float]:
        return [a.seconds for a in self.answers]

    @property
    def errors(self) -> int:
        """No answer, or a 5xx other than the 503 with Retry-After that tells the client when to come back."""
        return sum(
            1
            for a in self.answers
            if a.status == 0 or (a.status >= 500 and not (a.status == 503 and a.retry_after))
        )

    @property
    def within(self) -> float:
        return sum(1 for a in self.answers if a.status and a.seconds <= ANSWER_WITHIN_S) / max(
            1, len(self.answers)
        )

    @property
    def busy_without_retry_after(self) -> int:
        return sum(1 for a in self.answers if a.status == 503 and not a.retry_after)


async def _probe_latency(host: str, port: int, token: str, path: str, n: int) -> list[float]:
    conn = Connection(host, port, token)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            status, _, _ = await conn.get(path)
            if status == 200:
                out.append(time.perf_counter() - t0)
    finally:
        conn.close()
    return out


async def _recovery(host: str, port: int, token: str, path: str, normal: float, limit: float) -> float | None:
    """Seconds from now until the first of 3 probes in a row that answer 200 within `normal` seconds (None: not
    within `limit`)."""
    conn = Connection(host, port, token)
    start = time.perf_counter()
    streak: list[float] = []
    try:
        while time.perf_counter() - start < limit:
            t0 = time.perf_counter()
            try:
                status, _, _ = await asyncio.wait_for(conn.get(path), limit)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                conn.close()
                status = 0
            if status == 200 and time.perf_counter() - t0 <= normal:
                streak.append(t0)
                if len(streak) == 3:
                    return max(0.0, streak[0] - start)
            else:
                streak = []
            await asyncio.sleep(0.05)
    finally:
        conn.close()
    return None


async def _level(
    host: str, port: int, token: str, mix: Mix, clients: int, seconds: float, normal: float
) -> Level:
    answers: list[Answer] = []
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    deadline = t0 + seconds
    tasks = [
        asyncio.create_task(_client(host, port, token, mix, 1000 * clients + i, deadline, 60.0, answers))
        for i in range(clients)
    ]
    await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
    # the load stops now: clients send nothing new; see how soon a newcomer is served as when idle
    recovery = asyncio.create_task(
        _recovery(host, port, token, mix.q(f"/api/v1/participants/{mix.users[0]}"), normal, 30.0)
    )
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    level = Level(clients, elapsed, answers, load_before, os.getloadavg()[0])
    level.recovery_s = await recovery
    return level


async def _exports(host: str, port: int, token: str, mix: Mix, days: int) -> list[Answer]:
    last = mix.yesterday
    conns = [Connection(host, port, token) for _ in range(10)]
    paths = [
        mix.q(
            "/api/v1/timeseries",
            user_id=mix.users[i % len(mix.users)],
            metric="heart_rate",
            granularity="raw",
            format="csv",
            start_date=last - timedelta(days=days - 1),
            end_date=last,
        )
        for i in range(10)
    ]
    try:
        return list(
            await asyncio.gather(*(_request(c, "export", p, 600) for c, p in zip(conns, paths, strict=True)))
        )
    finally:
        for c in conns:
            c.close()


def _expected_rows(url: str, users: list[str], first: date, last: date) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            int(
                scalar(
                    conn,
                    """SELECT count(*) FROM samples s JOIN participants p ON p.id = s.participant_id
                       WHERE p.external_id = %s AND s.metric_id = %s
                         AND s.ts >= (%s::date::timestamp AT TIME ZONE p.timezone)
                         AND s.ts < ((%s::date + 1)::timestamp AT TIME ZONE p.timezone)""",
                    (u, HEART_RATE, first, last),
                )
            )
            for u in users
        ]


def _wait_up(base: str, path: str) -> None:
    import httpx

    for _ in range(300):
        try:
            if httpx.get(base + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API did not answer {path}")


def _ms(seconds: float) -> str:
    return "–" if seconds != seconds else f"{seconds * 1000:,.0f}"


@dataclass
class Run:
    """Everything measured against one server."""

    label: str
    idle: list[float]
    normal: float
    exports: list[Answer]
    export_s: float
    levels: list[Level]


def _measure(
    label: str,
    url: str,
    token: str,
    mix: Mix,
    levels_wanted: list[int],
    seconds: float,
    *,
    workers: int | None,
    source: Path | None,
    export_days: int,
) -> Run:
    """Start `fitpipe serve api` (from `source` when given: an older tree, for a side-by-side run), measure."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # the benchmark database's superuser login, allowed explicitly: privileges do not change the timings
    env = dict(
        os.environ,
        DATABASE_URL=url,
        FITPIPE_API_ALLOW_SUPERUSER="true",
        MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"),
    )
    if workers:
        env["FITPIPE_API_WORKERS"] = str(workers)
    if source is not None:
        tree = [source, *(source / d for d in ("api", "ingest_job", "dashboard", "operator"))]
        env["PYTHONPATH"] = os.pathsep.join(str(d) for d in tree)
    api = subprocess.Popen(
        [sys.executable, "-m", "fitpipe.cli", "serve", "api", "--port", str(port)],
        env=env,
        cwd=source,  # `python -m` puts the working directory first on the path
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = "127.0.0.1"
    try:
        # an older tree may refuse /readyz for a schema newer than it knows; it serves all the same
        _wait_up(f"http://{host}:{port}", "/readyz" if source is None else "/healthz")
        probe = mix.q(f"/api/v1/participants/{mix.users[0]}")
        asyncio.run(_probe_latency(host, port, token, probe, 20))  # warm-up
        idle = asyncio.run(_probe_latency(host, port, token, probe, 50))
        normal = max(2 * _pct(idle, 0.95), 0.1)
        print(f"[{label}] ten parallel exports …", file=sys.stderr)
        t0 = time.perf_counter()
        exports = asyncio.run(_exports(host, port, token, mix, export_days))
        export_s = time.perf_counter() - t0
        levels = []
        for clients in levels_wanted:
            print(f"[{label}] {clients} clients for {seconds:g} s …", file=sys.stderr)
            levels.append(asyncio.run(_level(host, port, token, mix, clients, seconds, normal)))
            time.sleep(3)
    finally:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()
    return Run(label, idle, normal, exports, export_s, levels)


def _print(run: Run, title: str, expected: list[int], export_days: int) -> None:
    print(f"\n### {title}\n")
    print(
        "| clients | answers | req/s | p50 ms | p95 ms | p99 ms | p95 served ms | slowest ms | within 5 s "
        "| 200 | 503 busy | other | errors | back to normal | load avg before → after |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for lv in run.levels:
        other = sum(n for k, n in lv.statuses.items() if k not in ("200", "503 busy"))
        print(
            f"| {lv.clients} | {len(lv.answers):,} | {len(lv.answers) / lv.seconds:,.0f} | {_ms(_pct(lv.all, 0.5))} "
            f"| {_ms(_pct(lv.all, 0.95))} | {_ms(_pct(lv.all, 0.99))} | {_ms(_pct(lv.served, 0.95))} "
            f"| {_ms(max(lv.all, default=float('nan')))} | {100 * lv.within:.1f} % | {lv.statuses['200']:,} "
            f"| {lv.statuses['503 busy']:,} | {other:,} | {lv.errors:,} "
            f"| {'–' if lv.recovery_s is None else f'{lv.recovery_s:.1f} s'} "
            f"| {lv.load_before:.1f} → {lv.load_after:.1f} |"
        )
    print()
    for lv in run.levels:
        kinds = sorted({a.kind for a in lv.answers})
        per_kind = ", ".join(
            f"{k} p95 {_ms(_pct([a.seconds for a in lv.answers if a.kind == k and a.status == 200], 0.95))} ms"
            for k in kinds
        )
        odd = {k: n for k, n in lv.statuses.items() if k not in ("200", "503 busy")}
        print(
            f"- {lv.clients} clients: {per_kind}; 503 without Retry-After: {lv.busy_without_retry_after}"
            + (f"; other answers: {dict(odd)}" if odd else "")
        )
    complete = sum(
        1 for a, want in zip(run.exports, expected, strict=True) if a.status == 200 and a.rows == want
    )
    print(
        f"\nIdle participant request: p50 {_ms(_pct(run.idle, 0.5))} ms, p95 {_ms(_pct(run.idle, 0.95))} ms "
        f"('back to normal': 3 answers in a row within {_ms(run.normal)} ms after the load stopped)."
    )
    print(
        f"Ten parallel CSV exports of {export_days} days of raw heart rate ({sum(expected):,} rows in all): "
        f"{complete}/10 complete with every row, statuses {sorted(Counter(a.status for a in run.exports).items())}, "
        f"all done in {run.export_s:.1f} s (slowest {max(a.seconds for a in run.exports):.1f} s)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="25,50,100,200")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--workers", type=int, default=None, help="FITPIPE_API_WORKERS for the server")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="also measure the API of this source tree (e.g. `git archive <commit> | tar -x -C DIR`), after "
        "the current one, and print the ratios",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (and reuse it next time)"
    )
    args = parser.parse_args()
    levels_wanted = [int(x) for x in args.clients.split(",")]

    server = database_url()
    admin = _with_db(server, "postgres")
    url = _with_db(server, DB)
    print(f"server: {redact(server)}", file=sys.stderr)
    yesterday = date.today() - timedelta(days=1)
    first = yesterday - timedelta(days=args.days - 1)
    export_days = 7
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            have = one(conn, "SELECT count(*), min(enrolment_start) FROM participants")
        fresh = have[0] == args.participants and have[1] is not None
        if not fresh or have[1].date() > first + timedelta(days=1):
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {DB}")
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)
            print(f"loading {args.participants} participants x {args.days} days …", file=sys.stderr)
            started = time.perf_counter()
            stored = _fill(url, args.participants, args.days, first)
            print(f"  loaded {stored:,} samples in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            _, token = create_token(conn, name="bench-load", role="service", studies=[], all_studies=True)
            users = [r[0] for r in conn.execute("SELECT external_id FROM participants ORDER BY 1").fetchall()]
            samples = scalar(conn, "SELECT coalesce(sum(count), 0) FROM rollup_1d")
        mix = Mix(users, yesterday)
        expected = _expected_rows(
            url,
            [users[i % len(users)] for i in range(10)],
            yesterday - timedelta(days=export_days - 1),
            yesterday,
        )
        common = {"workers": args.workers, "export_days": export_days}
        runs = [_measure("this tree", url, token, mix, levels_wanted, args.seconds, source=None, **common)]
        if args.baseline_src:
            runs.append(
                _measure(
                    "baseline",
                    url,
                    token,
                    mix,
                    levels_wanted,
                    args.seconds,
                    source=args.baseline_src,
                    **common,
                )
            )
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")

    cohort = f"{len(users)} participants x {args.days} days ({samples:,} samples)"
    setup = f"{args.workers or 'default'} worker(s), {args.seconds:g} s per level, {os.cpu_count()} cores"
    for run in runs:
        where = "this tree" if run.label == "this tree" else f"baseline {args.baseline_src}"
        _print(run, f"Load ({where}): {cohort}, `fitpipe serve api` with {setup}", expected, export_days)
    if len(runs) == 2:
        print("\n### Side by side (this tree / baseline)\n")
        print(
            "| clients | req/s | p95 served | answered within 5 s | errors (no answer, 5xx but 503 + Retry-After) |"
        )
        print("|---:|---|---|---|---|")
        for new, old in zip(runs[0].levels, runs[1].levels, strict=True):
            print(
                f"| {new.clients} | {len(new.answers) / new.seconds:,.0f} / {len(old.answers) / old.seconds:,.0f} "
                f"| {_ms(_pct(new.served, 0.95))} / {_ms(_pct(old.served, 0.95))} ms "
                f"| {100 * new.within:.1f} % / {100 * old.within:.1f} % | {new.errors:,} / {old.errors:,} |"
            )


if __name__ == "__main__":
    main()
