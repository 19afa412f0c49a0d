"""What storing a study costs on this server's TimescaleDB edition: bytes per sample and per participant-day,
and, on the full edition, native compression measured side by side with the uncompressed chunks of the
same run: compression throughput, late-data merges into a compressed chunk, and raw-day reads.

    [DATABASE_URL=postgresql://...] .venv/bin/python bench/storage.py [--participants 8] [--days 8]

Uses the server of DATABASE_URL / DB_* or the embedded database. Creates the database fitpipe_bench_storage on it (the role needs CREATEDB), applies the
migrations and loads, through fitpipe's loader (rollups, cursors, manifest as in production), an
activity-and-sleep study: heart rate (a mean-reverting random walk of integer bpm), steps, calories,
distance and active zone minutes per minute all day, SpO2 per minute and HRV per 5 minutes at night, and
the daily summaries. Twice: heart rate at the nominal 1 Hz, then at the realistic rate (one sample every
1-15 s, ~5 s on average). On the full edition (TSL module loaded) it then compresses every chunk but the
last day's, and measures against that last, uncompressed day:
  - compression: rows/s and MB/s of compress_chunk, bytes per sample before and after;
  - late data: a changed hour (3,600 rows, staging + ON CONFLICT + rollup recompute), one changed row, and a
    new participant's whole day (binary COPY fast path), each into a compressed and an uncompressed day;
  - reads: one participant-day of raw heart rate (86,400 rows, binary COPY out) and its 1-minute rollup.
On the Apache edition only the uncompressed figures are printed. The database is dropped at the end.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

import click
import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

if __package__ in (None, ""):  # run as a script: make the checkout importable without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bytes_per_point import heart_rate_walk  # noqa: E402  (bench/ is not a package)
from one_row import scalar  # noqa: E402  (bench/ is not a package)

from fitpipe.db import connect, database_url, redact  # noqa: E402
from fitpipe.errors import FitpipeError  # noqa: E402
from fitpipe.localtime import us_to_datetime  # noqa: E402
from fitpipe.migrations import migrate  # noqa: E402
from fitpipe.participants import Participant, add_participant  # noqa: E402
from fitpipe.storage import detect_edition, read_sizes  # noqa: E402
from fitpipe_api.queries.timeseries import Span, read_all, stream_raw, stream_rollup  # noqa: E402
from fitpipe_ingest.load import FileIdentity, LoadOptions, PendingFile, load_files  # noqa: E402
from fitpipe_ingest.records import ParsedFile, SampleBatch  # noqa: E402

DB = "fitpipe_bench_storage"
DAY0_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
US = 1_000_000
DAY = 86_400
NIGHT = (23 * 3600, 23 * 3600 + 7.5 * 3600)  # 23:00 to 06:30 UTC, crossing midnight
PER_MINUTE = ("steps", "calories", "distance", "active_zone_minutes")
HRV = ("hrv_rmssd", "hrv_coverage", "hrv_hf", "hrv_lf")
DAILY = (
    "resting_heart_rate",
    "breathing_rate",
    "breathing_rate_deep",
    "breathing_rate_rem",
    "breathing_rate_light",
    "skin_temperature",
    "spo2_daily",
    "hrv_daily_rmssd",
    "sleep_minutes",
    "sleep_efficiency",
    "sleep_score",
    "sedentary_minutes",
    "lightly_active_minutes",
    "moderately_active_minutes",
    "very_active_minutes",
)
DAILY_RANGE = {"sleep_minutes": (300, 500), "sedentary_minutes": (500, 900), "sleep_score": (60, 90)}


def heart_rate_day(rng: np.random.Generator, realistic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of the day and bpm: every second (nominal) or one sample every 1-15 s (~5 s, realistic)."""
    values = heart_rate_walk(rng, DAY)
    if not realistic:
        return np.arange(DAY, dtype=np.int64), values
    gaps = np.clip(np.round(rng.gamma(2.0, 2.5, DAY // 2)), 1, 15).astype(np.int64)
    seconds = np.cumsum(gaps)
    seconds = seconds[seconds < DAY]
    return seconds, values[seconds]


def day_batches(rng: np.random.Generator, day: int, realistic: bool) -> list[SampleBatch]:
    base = DAY0_US + day * DAY * US
    out = []

    def add(metric: str, seconds: np.ndarray, values: np.ndarray) -> None:
        out.append(
            SampleBatch(metric, base + seconds.astype(np.int64) * US, values.astype(np.float64), "bench")
        )

    seconds, bpm = heart_rate_day(rng, realistic)
    add("heart_rate", seconds, bpm)
    minutes = np.arange(0, DAY, 60)
    walking = rng.random(minutes.size) < 0.15
    steps = np.where(walking, rng.poisson(80, minutes.size), 0)
    add("steps", minutes, steps)
    add("calories", minutes, np.round(1.1 + steps * 0.04 + rng.random(minutes.size) * 0.2, 2))
    add("distance", minutes, np.round(steps * 0.00075, 5))
    add("active_zone_minutes", minutes, (steps > 110).astype(np.float64))
    night = np.concatenate([np.arange(0, NIGHT[1] - DAY, 60), np.arange(NIGHT[0], DAY, 60)]).astype(np.int64)
    add("spo2", night, np.round(95 + rng.normal(0, 1, night.size), 1).clip(85, 100))
    night5 = night[::5]
    for metric, scale in zip(HRV, (40, 0.9, 500, 800), strict=True):
        values = np.abs(rng.normal(scale, scale / 5, night5.size))
        add(metric, night5, np.round(values.clip(0, 1.09) if metric == "hrv_coverage" else values, 3))
    for metric in DAILY:
        lo, hi = DAILY_RANGE.get(metric, (10, 80))
        add(metric, np.array([0]), np.array([round(rng.uniform(lo, hi), 1)]))
    return out


def load_study(
    conn: psycopg.Connection, study: str, participants: int, days: int, realistic: bool
) -> tuple[list[Participant], float]:
    """Load the study one participant-day (one transaction) at a time, days in order; returns seconds."""
    rng = np.random.default_rng(11)
    people = [
        add_participant(conn, f"{study[0].upper()}{i:03d}", study, timezone="UTC")[0]
        for i in range(participants)
    ]
    started = time.perf_counter()
    for day in range(days):
        for p in people:
            path = f"{p.external_id}/day-{day}.json"
            parsed = ParsedFile(path, "bench", day_batches(rng, day, realistic))
            load_files(
                conn, [PendingFile(parsed, {None: p}, FileIdentity(path, 1, path))], LoadOptions("bench")
            )
    return people, time.perf_counter() - started


@dataclass
class Footprint:
    rows: dict[str, int]
    sizes: dict[str, tuple[int, int]]
    """bytes (uncompressed, compressed) per table."""
    hr_rows: int

    def bytes(self, table: str) -> int:
        return sum(self.sizes[table])


def footprint(conn: psycopg.Connection) -> Footprint:
    rows = {
        t: int(scalar(conn, f"SELECT count(*) FROM {t}"))
        for t in ("samples", "rollup_1m", "rollup_1h", "rollup_1d")
    }
    hr = int(scalar(conn, "SELECT count(*) FROM samples WHERE metric_id = 1"))
    sizes = {t.table_name: (t.uncompressed_bytes, t.compressed_bytes) for t in read_sizes(conn)}
    return Footprint(rows, sizes, hr)


GROUPS = {
    "heart rate": ("heart_rate",),
    "per-minute activity": PER_MINUTE,
    "night (SpO2, HRV)": ("spo2", *HRV),
    "daily": DAILY,
}


def compressed_bytes_per_row(conn: psycopg.Connection, table: str) -> dict[str, tuple[int, float]]:
    """Rows and bytes per row in the compressed chunks of `table` only, per group of metrics. Each compressed
    batch's column sizes (pg_column_size: as stored, TOASTed values at their compressed size) are summed per
    metric, then scaled so that the groups add up to the compressed chunks' bytes on disk (pages, indexes)."""
    from fitpipe.catalog import BY_ID

    chunks = conn.execute(
        """SELECT format('%%I.%%I', c2.schema_name, c2.table_name), format('%%I.%%I', c1.schema_name, c1.table_name)
           FROM _timescaledb_catalog.chunk c1 JOIN _timescaledb_catalog.chunk c2 ON c2.id = c1.compressed_chunk_id
           JOIN _timescaledb_catalog.hypertable h ON h.id = c1.hypertable_id WHERE h.table_name = %s""",
        (table,),
    ).fetchall()
    stored: dict[str, float] = {}
    counts: dict[str, int] = {}
    disk = 0
    for compressed, chunk in chunks:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (compressed,),
            )
        ]
        size = " + ".join(f'coalesce(pg_column_size("{c}"), 0)' for c in columns)
        for metric_id, n, b in conn.execute(
            f"SELECT metric_id, sum(_ts_meta_count), sum({size}) FROM {compressed} GROUP BY 1"  # names from the catalog
        ):
            name = BY_ID[int(metric_id)].name
            group = next(g for g, members in GROUPS.items() if name in members)
            counts[group] = counts.get(group, 0) + int(n)
            stored[group] = stored.get(group, 0.0) + float(b)
        row = conn.execute(
            "SELECT pg_total_relation_size(%s::regclass) + pg_total_relation_size(%s::regclass)",
            (compressed, chunk),
        ).fetchone()
        disk += int(row[0]) if row else 0
    scale = disk / sum(stored.values()) if stored else 0.0
    return {g: (counts[g], stored[g] * scale / counts[g]) for g in GROUPS if counts.get(g)}


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@dataclass
class Phase:
    sampling: str
    participants: int
    days: int
    load_seconds: float
    before: Footprint
    after: Footprint | None = None
    per_group: dict[str, tuple[int, float]] = field(default_factory=dict)
    """samples in compressed chunks, by metric group: (rows, bytes per row)."""
    rollup_1m_compressed: tuple[int, float] = (0, 0.0)
    compress_seconds: float = 0.0
    compressed_chunks: int = 0
    compressed_input_bytes: int = 0
    compressed_rows: int = 0
    late: dict[str, tuple[float, float]] = field(default_factory=dict)
    """operation -> (ms into a compressed day, ms into an uncompressed day)."""


def _reload(conn: psycopg.Connection, p: Participant, batch: SampleBatch, tag: str) -> float:
    path = f"{p.external_id}/{tag}.json"
    started = time.perf_counter()
    load_files(
        conn,
        [PendingFile(ParsedFile(path, "bench", [batch]), {None: p}, FileIdentity(path, 1, tag))],
        LoadOptions("bench", full=True),
    )
    return (time.perf_counter() - started) * 1000


def late_data(
    conn: psycopg.Connection, people: list[Participant], days: int, runs: int
) -> dict[str, tuple[float, float]]:
    """Each operation into day 1 (compressed) and into the last day (uncompressed), on other participants each run."""
    rng = np.random.default_rng(5)
    out: dict[str, tuple[float, float]] = {}
    for name, make in (
        (
            "changed hour (3,600 rows)",
            lambda base: (base + 10 * 3600 * US + np.arange(3600, dtype=np.int64) * US, 3600),
        ),
        ("one changed row", lambda base: (base + 12 * 3600 * US + np.array([0], dtype=np.int64), 1)),
    ):
        timings: dict[int, list[float]] = {1: [], days - 1: []}
        for run in range(runs):
            for day in timings:
                p = people[run % len(people)]
                ts, n = make(DAY0_US + day * DAY * US)
                batch = SampleBatch("heart_rate", ts, rng.integers(60, 120, n).astype(np.float64), "late")
                timings[day].append(_reload(conn, p, batch, f"late-{name[:3]}-{day}-{run}"))
        out[name] = (statistics.median(timings[1]), statistics.median(timings[days - 1]))
    fast: dict[int, list[float]] = {1: [], days - 1: []}
    for run in range(max(2, runs // 3)):
        for day in fast:
            newcomer, _ = add_participant(conn, f"X{day}{run}", "late", timezone="UTC")
            seconds, bpm = heart_rate_day(rng, realistic=False)
            batch = SampleBatch("heart_rate", DAY0_US + day * DAY * US + seconds * US, bpm, "new")
            fast[day].append(_reload(conn, newcomer, batch, f"new-{day}-{run}"))
    out["new participant-day (86,400 rows, COPY)"] = (
        statistics.median(fast[1]),
        statistics.median(fast[days - 1]),
    )
    return out


def reads(conn: psycopg.Connection, p: Participant, days: int, runs: int) -> dict[str, tuple[float, float]]:
    def day_span(day: int, metric: int = 1) -> Span:
        start = us_to_datetime(DAY0_US + day * DAY * US)
        return Span(p.id, metric, start, start + timedelta(days=1))

    out = {}
    for label, fn in (
        (
            "raw heart rate, one participant-day",
            lambda d: sum(a.size for a, _ in stream_raw(conn, day_span(d))),
        ),
        (
            "1-minute heart rate (rollup_1m), one day",
            lambda d: read_all(stream_rollup(conn, day_span(d), "1m"))["t"].size,
        ),
        (
            "1-minute steps (from samples), one day",
            lambda d: read_all(stream_rollup(conn, day_span(d, 16), "1m"))["t"].size,
        ),
    ):
        out[label] = (median_ms(partial(fn, 1), runs), median_ms(partial(fn, days - 1), runs))
    return out


def run_phase(
    conn: psycopg.Connection, sampling: str, participants: int, days: int, compress: bool, runs: int
) -> tuple[Phase, dict[str, tuple[float, float]]]:
    conn.execute("TRUNCATE samples, rollup_1m, rollup_1h, rollup_1d, ingest_cursors, ingest_files")
    people, seconds = load_study(conn, sampling, participants, days, realistic=sampling == "realistic")
    conn.execute("VACUUM ANALYZE")
    phase = Phase(sampling, participants, days, seconds, footprint(conn))
    read_times: dict[str, tuple[float, float]] = {}
    if not compress:
        return phase, read_times
    last_day = us_to_datetime(DAY0_US + (days - 1) * DAY * US)
    chunks = conn.execute(
        "SELECT chunk::text, pg_total_relation_size(chunk) FROM fitpipe_compression_candidates(%s)",
        (last_day,),
    ).fetchall()
    compressed_rows = conn.execute("SELECT count(*) FROM samples WHERE ts < %s", (last_day,)).fetchone()
    phase.compressed_rows = int(compressed_rows[0]) if compressed_rows else 0
    started = time.perf_counter()
    for chunk, size in chunks:
        conn.execute("SELECT fitpipe_compress_chunk(%s::regclass)", (chunk,))
        phase.compressed_input_bytes += int(size)
    phase.compress_seconds = time.perf_counter() - started
    phase.compressed_chunks = len(chunks)
    conn.execute("VACUUM ANALYZE")
    phase.after = footprint(conn)
    phase.per_group = compressed_bytes_per_row(conn, "samples")
    rollups = compressed_bytes_per_row(conn, "rollup_1m")
    if rollups:
        n = sum(r for r, _ in rollups.values())
        phase.rollup_1m_compressed = (n, sum(r * b for r, b in rollups.values()) / n)
    if sampling == "nominal":
        read_times = reads(conn, people[0], days, runs)
        phase.late = late_data(conn, people, days, runs)
    return phase, read_times


_LABEL = 54
"""Width of the label column of the late-data and read tables (the longest label fits)."""


def report(edition: str, phases: list[Phase], read_times: dict[str, tuple[float, float]]) -> str:
    lines = [f"edition: {edition}", ""]
    for ph in phases:
        b = ph.before
        pdays = ph.participants * ph.days
        samples = b.rows["samples"]
        lines += [
            f"{ph.sampling} heart rate: {ph.participants} participants x {ph.days} days, {samples:,} samples "
            f"({b.hr_rows:,} heart rate), loaded in {ph.load_seconds:.1f} s ({samples / ph.load_seconds / 1e3:.0f} k samples/s)",
            f"{'table':<11}{'rows':>13}{'bytes/row':>11}{'per participant-day':>21}"
            + (f"{'after':>13}{'bytes/row':>11}{'per participant-day':>21}" if ph.after else ""),
        ]
        total_before = total_after = 0
        for t in ("samples", "rollup_1m", "rollup_1h", "rollup_1d"):
            rows = max(b.rows[t], 1)
            line = f"{t:<11}{b.rows[t]:>13,}{b.bytes(t) / rows:>11.1f}{b.bytes(t) / pdays / 1e3:>18.1f} kB"
            total_before += b.bytes(t)
            if ph.after:
                a = ph.after
                line += f"{a.bytes(t) / 1e6:>10.1f} MB{a.bytes(t) / rows:>11.2f}{a.bytes(t) / pdays / 1e3:>18.1f} kB"
                total_after += a.bytes(t)
            lines.append(line)
        total = (
            f"{'all four':<11}{'':>13}{total_before / samples:>11.1f}{total_before / pdays / 1e3:>18.1f} kB"
        )
        if ph.after:
            total += f"{total_after / 1e6:>10.1f} MB{total_after / samples:>11.2f}{total_after / pdays / 1e3:>18.1f} kB"
        lines.append(total + "   (bytes/row of all four: per sample)")
        lines.append(
            f"per participant-year (x 365): {total_before * 365 / pdays / 1e9:.2f} GB uncompressed"
            + (f", {total_after * 365 / pdays / 1e9:.3f} GB compressed" if ph.after else "")
        )
        if ph.per_group:
            n_all = sum(n for n, _ in ph.per_group.values())
            lines.append(
                f"compressed chunks only: {sum(n * b for n, b in ph.per_group.values()) / n_all:.2f} bytes per sample "
                f"({n_all:,} samples); by metric group: "
                + ", ".join(f"{g} {b:.2f}" for g, (n, b) in ph.per_group.items())
            )
            lines.append(
                f"compressed rollup_1m chunks only: {ph.rollup_1m_compressed[1]:.2f} bytes per row "
                f"({ph.rollup_1m_compressed[0]:,} rows)"
            )
        if ph.after:
            mb = ph.compressed_input_bytes / 1e6
            lines.append(
                f"compression: {ph.compressed_chunks} chunks, {mb:.0f} MB in {ph.compress_seconds:.1f} s: "
                f"{mb / ph.compress_seconds:.0f} MB/s, "
                f"{ph.compressed_rows / ph.compress_seconds / 1e6:.2f} M samples/s"
            )
        lines.append("")
    for ph in phases:
        if ph.late:
            lines.append(
                f"{f'late data through the loader, median ms ({ph.sampling}):':<{_LABEL}}"
                f"{'compressed day':>16}{'uncompressed day':>18}{'ratio':>8}"
            )
            for name, (c, u) in ph.late.items():
                lines.append(f"  {name:<{_LABEL - 2}}{c:>16.1f}{u:>18.1f}{c / u:>8.1f}")
            lines.append("")
    if read_times:
        lines.append(
            f"{'reads, median ms (warm):':<{_LABEL}}{'compressed day':>16}{'uncompressed day':>18}{'ratio':>8}"
        )
        for name, (c, u) in read_times.items():
            lines.append(f"  {name:<{_LABEL - 2}}{c:>16.1f}{u:>18.1f}{c / u:>8.2f}")
    return "\n".join(lines)


@click.command()
@click.option("--participants", type=click.IntRange(min=2), default=8, show_default=True)
@click.option("--days", type=click.IntRange(min=3), default=8, show_default=True)
@click.option("--runs", type=click.IntRange(min=3), default=15, show_default=True)
@click.option("--keep", is_flag=True, help="Keep the scratch database.")
def main(participants: int, days: int, runs: int, keep: bool) -> None:
    """Measure storage per sample and per participant-day, and compression where the edition has it."""
    try:
        url = database_url()  # DATABASE_URL / DB_*, else the embedded database
    except FitpipeError as exc:
        click.echo(f"storage: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    try:
        with connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {DB}")
            try:
                with connect(make_conninfo(url, dbname=DB), autocommit=True) as conn:
                    migrate(conn)
                    edition = detect_edition(conn)
                    click.echo(f"database {DB} on {redact(url)}: {edition.describe()}", err=True)
                    phases: list[Phase] = []
                    read_times: dict[str, tuple[float, float]] = {}
                    for sampling in ("nominal", "realistic"):
                        phase, times = run_phase(
                            conn, sampling, participants, days, edition.compression, runs
                        )
                        phases.append(phase)
                        read_times |= times
                        click.echo(f"{sampling}: done", err=True)
            finally:
                if not keep:
                    admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    except FitpipeError as exc:
        click.echo(f"storage: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    click.echo(report(edition.describe(), phases, read_times))


if __name__ == "__main__":
    main()
