"""How much data a study produces and what storing it costs: points, bytes per stored point, rollup rows.
Pure arithmetic over the metric catalog and sql/0001_core.sql's row layout, printed by `fitpipe estimate`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from fitpipe.catalog import METRICS, Metric, get_metric
from fitpipe.errors import InputError

__all__ = [
    "Column",
    "TableLayout",
    "RowCost",
    "MetricVolume",
    "MetricSet",
    "Volume",
    "SideTables",
    "ChartRead",
    "DailyLoad",
    "SAMPLES",
    "ROLLUP",
    "SLEEP_SESSIONS",
    "SLEEP_STAGES",
    "METRIC_SETS",
    "SAMPLING",
    "SAMPLE_ROW",
    "ROLLUP_ROW",
    "GRID_PARTICIPANTS",
    "GRID_YEARS",
    "data_bytes",
    "heap_tuple_bytes",
    "index_tuple_bytes",
    "row_cost",
    "metric_volume",
    "get_metric_set",
    "participant_days",
    "volume",
    "grid",
    "side_tables",
    "chart_reads",
    "daily_load",
    "EditionCost",
    "APACHE",
    "FULL",
    "EDITIONS",
    "StudyFootprint",
    "Recommendation",
    "study_footprint",
    "hot_set",
    "recommend",
]

Sampling = Literal["nominal", "realistic"]
SAMPLING: tuple[Sampling, ...] = ("nominal", "realistic")

# --- PostgreSQL storage constants (8 kB pages, 64-bit build) -------------------------------------
PAGE_BYTES = 8192
PAGE_HEADER_BYTES = 24
LINE_POINTER_BYTES = 4  # one ItemId per tuple, in heap and index pages alike
MAXALIGN = 8
# 23-byte HeapTupleHeaderData, MAXALIGNed; no null bitmap because every column is NOT NULL
HEAP_TUPLE_HEADER_BYTES = 24
INDEX_TUPLE_HEADER_BYTES = 8  # IndexTupleData: 6-byte heap pointer + 2-byte size/flags
BTREE_SPECIAL_BYTES = 16  # BTPageOpaqueData at the end of every btree page
# Leaf pages fill to the default fillfactor (90 %): new keys arrive in ascending time order per
# (participant, metric), and PostgreSQL >= 12 splits such "localized monotonic" inserts right after
# the new item instead of 50/50. Internal pages split at 70 %.
BTREE_LEAF_FILL = 0.90
BTREE_INTERNAL_FILL = 0.70

# --- time and study assumptions ----------------------------------------------------------------
SECONDS_PER_DAY = 86_400
DAYS_PER_YEAR = 365  # 1 participant x 1 year x 1 Hz = 31,536,000 points; leap years add 0.07 % on average
SLEEP_HOURS = 7.5  # main sleep per night; SpO2 and HRV are recorded only then
# Hours a night touches: a 7.5-hour night spans 8 or 9 clock hours, 8.5 on average.
SLEEP_CLOCK_HOURS = SLEEP_HOURS + 1
# Fitbit's "1 s" heart rate is sparse: a sample every 1-15 s, about one per 5 s averaged over a day
# (a Pixel Watch 3 delivers one per ~3 s). Nominal sampling assumes the full 1 Hz.
REALISTIC_INTERVAL_SECONDS = {"heart_rate": 5}
STAGE_INTERVALS_PER_NIGHT = 45  # Fitbit "stages" logs: ~20 levels.data + ~25 shortData intervals
SLEEP_SESSIONS_PER_DAY = 1
# binary COPY into the indexed hypertable, measured on 2 cores (0.45-0.62 M rows/s)
INGEST_ROWS_PER_SECOND = 500_000

GRID_PARTICIPANTS = (1, 1_000, 10_000)
GRID_YEARS = (1, 2, 5)

_SLEEP_ONLY = frozenset({"spo2", "hrv_rmssd", "hrv_coverage", "hrv_hf", "hrv_lf", "oxygen_variation"})
_RESOLUTION_SECONDS = {"1s": 1, "1min": 60, "5min": 300}


# --- row layouts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    width: int
    """Bytes stored; for text, the typical length including its 1-byte short varlena header."""
    align: int
    """typalign: 8 for int8/float8/timestamptz, 4 for int4/date, 2 for int2, 1 for bool and short text."""


@dataclass(frozen=True)
class TableLayout:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[tuple[str, ...], ...]
    """Key columns of each btree index on the table."""

    def key(self, names: Sequence[str]) -> tuple[Column, ...]:
        by_name = {c.name: c for c in self.columns}
        return tuple(by_name[n] for n in names)


def _ts(name: str) -> Column:
    return Column(name, 8, 8)


SAMPLES = TableLayout(
    "samples",
    (_ts("ts"), Column("value", 8, 8), Column("participant_id", 4, 4), Column("metric_id", 2, 2)),
    (("participant_id", "metric_id", "ts"),),
)
ROLLUP = TableLayout(  # rollup_1m, rollup_1h and rollup_1d share it
    "rollup",
    (
        _ts("bucket"),
        Column("sum", 8, 8),
        Column("min", 8, 8),
        Column("max", 8, 8),
        Column("participant_id", 4, 4),
        Column("count", 4, 4),
        Column("minutes", 4, 4),
        Column("metric_id", 2, 2),
    ),
    (("participant_id", "metric_id", "bucket"),),
)
SLEEP_SESSIONS = TableLayout(
    "sleep_sessions",
    (
        Column("id", 8, 8),
        Column("participant_id", 4, 4),
        _ts("start_time"),
        _ts("end_time"),
        Column("local_date", 4, 4),
        Column("is_main_sleep", 1, 1),
        Column("minutes_asleep", 4, 4),
        Column("minutes_awake", 4, 4),
        Column("efficiency", 2, 2),
        Column("sleep_type", 7, 1),  # 'stages'
        Column("source", 8, 1),  # 'takeout'
        Column("log_id", 12, 1),  # an 11-digit Fitbit logId
    ),
    (("id",), ("participant_id", "start_time")),
)
SLEEP_STAGES = TableLayout(
    "sleep_stages",
    (
        _ts("session_id"),
        _ts("start_time"),
        Column("seconds", 4, 4),
        Column("level", 6, 1),
        Column("is_short", 1, 1),
    ),
    (("session_id", "start_time", "is_short"),),
)


def _align_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def data_bytes(columns: Iterable[Column]) -> int:
    """Bytes of the column values in one tuple, with the padding their alignment needs."""
    offset = 0
    for column in columns:
        offset = _align_up(offset, column.align) + column.width
    return offset


def heap_tuple_bytes(layout: TableLayout) -> int:
    """samples: 24-byte header + 22 bytes of data = 46, MAXALIGNed to 48."""
    return _align_up(HEAP_TUPLE_HEADER_BYTES + data_bytes(layout.columns), MAXALIGN)


def index_tuple_bytes(layout: TableLayout, key: Sequence[str]) -> int:
    """samples_key: 8-byte header + (int4, int2, 2 bytes padding, timestamptz) = 24."""
    return _align_up(INDEX_TUPLE_HEADER_BYTES + data_bytes(layout.key(key)), MAXALIGN)


@dataclass(frozen=True)
class RowCost:
    """Bytes one row costs on disk, page overheads included."""

    heap: float
    index: float

    @property
    def total(self) -> float:
        return self.heap + self.index


def _heap_bytes_per_row(layout: TableLayout) -> float:
    per_page = (PAGE_BYTES - PAGE_HEADER_BYTES) // (heap_tuple_bytes(layout) + LINE_POINTER_BYTES)
    return PAGE_BYTES / per_page


def _btree_bytes_per_row(layout: TableLayout, key: Sequence[str], leaf_fill: float) -> float:
    entry = index_tuple_bytes(layout, key) + LINE_POINTER_BYTES
    usable = PAGE_BYTES - PAGE_HEADER_BYTES - BTREE_SPECIAL_BYTES
    leaf_rows = math.floor(usable * leaf_fill / entry) - 1  # one slot holds the page's high key
    fanout = math.floor(usable * BTREE_INTERNAL_FILL / entry)
    # one internal entry per leaf page, one per internal page above it, ...: a geometric series
    return PAGE_BYTES / leaf_rows * fanout / (fanout - 1)


def row_cost(layout: TableLayout, *, leaf_fill: float = BTREE_LEAF_FILL) -> RowCost:
    """Heap and index bytes per row of `layout` after a load in key order (then VACUUM)."""
    if not 0 < leaf_fill <= 1:
        raise InputError(f"btree leaf fill must be in (0, 1], got {leaf_fill}", field="leaf_fill")
    return RowCost(
        heap=_heap_bytes_per_row(layout),
        index=sum(_btree_bytes_per_row(layout, key, leaf_fill) for key in layout.indexes),
    )


SAMPLE_ROW = row_cost(SAMPLES)
ROLLUP_ROW = row_cost(ROLLUP)


# --- what a participant-day produces -------------------------------------------------------------
@dataclass(frozen=True)
class MetricVolume:
    """Rows one participant-day adds for one metric: samples (nominal and realistic) and rollups."""

    metric: str
    resolution: str
    window: Literal["all day", "sleep", "daily"]
    nominal: float
    realistic: float
    rollup_1m: float
    """Rows stored in rollup_1m (0 for metrics sampled once a minute or less often: data_1m reads their samples)."""
    rollup_1h: float
    rollup_1d: float

    def points(self, sampling: Sampling) -> float:
        return self.nominal if sampling == "nominal" else self.realistic

    @property
    def rollup_rows(self) -> float:
        return self.rollup_1m + self.rollup_1h + self.rollup_1d


def metric_volume(metric: Metric) -> MetricVolume:
    if metric.daily:
        return MetricVolume(metric.name, metric.resolution, "daily", 1, 1, 0, 1, 1)
    seconds = _RESOLUTION_SECONDS.get(metric.resolution)
    if seconds is None:
        raise InputError(
            f"metric {metric.name}: no volume rule for resolution {metric.resolution!r}",
            hint="add the resolution to fitpipe.capacity._RESOLUTION_SECONDS",
        )
    sleep_only = metric.name in _SLEEP_ONLY
    window_seconds = SLEEP_HOURS * 3600 if sleep_only else SECONDS_PER_DAY
    realistic_interval = max(seconds, REALISTIC_INTERVAL_SECONDS.get(metric.name, seconds))
    return MetricVolume(
        metric=metric.name,
        resolution=metric.resolution,
        window="sleep" if sleep_only else "all day",
        nominal=window_seconds / seconds,
        realistic=window_seconds / realistic_interval,
        # rollup_1m keeps minutes (that hold a sample) only of sub-minute metrics: a per-minute sample is its own
        # minute, read from samples (sql/0008_storage.sql)
        rollup_1m=window_seconds / 60 if metric.rollup_1m else 0,
        rollup_1h=SLEEP_CLOCK_HOURS if sleep_only else 24,
        rollup_1d=1,
    )


@dataclass(frozen=True)
class MetricSet:
    name: str
    title: str
    metrics: tuple[MetricVolume, ...]
    sleep_logs: bool
    """Whether the set stores sleep sessions with their stage intervals (tables beside `samples`)."""

    def points_per_day(self, sampling: Sampling) -> float:
        return sum(m.points(sampling) for m in self.metrics)

    @property
    def rollup_rows_per_day(self) -> tuple[float, float, float]:
        return (
            sum(m.rollup_1m for m in self.metrics),
            sum(m.rollup_1h for m in self.metrics),
            sum(m.rollup_1d for m in self.metrics),
        )

    @property
    def sleep_rows_per_day(self) -> tuple[float, float]:
        """(sleep_sessions, sleep_stages) rows per participant-day."""
        if not self.sleep_logs:
            return (0.0, 0.0)
        return (float(SLEEP_SESSIONS_PER_DAY), float(SLEEP_SESSIONS_PER_DAY * STAGE_INTERVALS_PER_NIGHT))


# The activity-and-sleep study: intraday heart rate and activity, sleep-time SpO2 and HRV, and the
# daily summaries Fitbit computes. Every name is a catalog metric.
_ACTIVITY_SLEEP = (
    "heart_rate",
    "steps",
    "calories",
    "distance",
    "active_zone_minutes",
    "spo2",
    "hrv_rmssd",
    "hrv_coverage",
    "hrv_hf",
    "hrv_lf",
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


def _set(name: str, title: str, metrics: Iterable[str], sleep_logs: bool) -> MetricSet:
    return MetricSet(name, title, tuple(metric_volume(get_metric(m)) for m in metrics), sleep_logs)


METRIC_SETS: dict[str, MetricSet] = {
    s.name: s
    for s in (
        _set("hr1s", "heart rate at 1 s", ["heart_rate"], sleep_logs=False),
        _set("activity-sleep", "activity-and-sleep study", _ACTIVITY_SLEEP, sleep_logs=True),
        _set("all", "every catalog metric", [m.name for m in METRICS], sleep_logs=True),
    )
}


def get_metric_set(name: str) -> MetricSet:
    try:
        return METRIC_SETS[name]
    except KeyError:
        raise InputError(f"unknown metric set {name!r}", hint="known: " + ", ".join(METRIC_SETS)) from None


# --- volumes -------------------------------------------------------------------------------------
def _require_positive(name: str, value: float) -> None:
    if not value > 0:  # also refuses NaN
        raise InputError(f"{name} must be positive, got {value}", field=name)


def participant_days(participants: int, years: float) -> float:
    _require_positive("participants", participants)
    _require_positive("years", years)
    return participants * years * DAYS_PER_YEAR


@dataclass(frozen=True)
class Volume:
    """Stored samples of `participants` over `years`: points = participants x years x 365 x points/day,
    bytes = points x bytes per point, compressed = bytes x (1 - compression)."""

    participants: int
    years: float
    points: int
    bytes_per_point: float
    compression: float

    @property
    def uncompressed_bytes(self) -> float:
        return self.points * self.bytes_per_point

    @property
    def compressed_bytes(self) -> float:
        return self.uncompressed_bytes * (1 - self.compression)


def volume(
    participants: int,
    years: float,
    points_per_day: float,
    *,
    bytes_per_point: float = SAMPLE_ROW.total,
    compression: float = 0.8,
) -> Volume:
    _require_positive("points per day", points_per_day)
    _require_positive("bytes per point", bytes_per_point)
    if not 0 <= compression < 1:
        raise InputError(f"compression must be a fraction in [0, 1), got {compression}", field="compression")
    points = round(participant_days(participants, years) * points_per_day)
    return Volume(participants, years, points, bytes_per_point, compression)


def grid(
    points_per_day: float,
    *,
    bytes_per_point: float = SAMPLE_ROW.total,
    compression: float = 0.8,
    participants: Sequence[int] = GRID_PARTICIPANTS,
    years: Sequence[float] = GRID_YEARS,
) -> list[Volume]:
    """One Volume per (participants, years), participants varying slowest."""
    return [
        volume(n, y, points_per_day, bytes_per_point=bytes_per_point, compression=compression)
        for n in participants
        for y in years
    ]


@dataclass(frozen=True)
class SideTables:
    """What a metric set stores beside `samples`: rollup rows (1m + 1h + 1d) and sleep logs."""

    rollup_rows: int
    rollup_bytes: float
    sleep_rows: int
    sleep_bytes: float


def side_tables(metric_set: MetricSet, participants: int, years: float) -> SideTables:
    days = participant_days(participants, years)
    rollup_rows = round(sum(metric_set.rollup_rows_per_day) * days)
    sessions, stages = (round(r * days) for r in metric_set.sleep_rows_per_day)
    return SideTables(
        rollup_rows=rollup_rows,
        rollup_bytes=rollup_rows * ROLLUP_ROW.total,
        sleep_rows=sessions + stages,
        sleep_bytes=sessions * row_cost(SLEEP_SESSIONS).total + stages * row_cost(SLEEP_STAGES).total,
    )


@dataclass(frozen=True)
class ChartRead:
    """Rows (and bytes) a chart of one participant's heart rate reads from one source."""

    source: str
    resolution: str
    rows: int
    bytes: float


def chart_reads(days: float = DAYS_PER_YEAR) -> list[ChartRead]:
    """What a `days`-long heart-rate chart of one participant reads from raw samples and from each rollup."""
    _require_positive("days", days)
    hr = metric_volume(get_metric("heart_rate"))
    sources = (
        ("samples", "1 Hz (nominal)", hr.nominal, SAMPLE_ROW.total),
        (
            "samples",
            f"1 per {REALISTIC_INTERVAL_SECONDS['heart_rate']} s (realistic)",
            hr.realistic,
            SAMPLE_ROW.total,
        ),
        ("data_1m", "1 min", hr.rollup_1m, ROLLUP_ROW.total),
        ("data_1h", "1 h", hr.rollup_1h, ROLLUP_ROW.total),
        ("data_1d", "1 day", hr.rollup_1d, ROLLUP_ROW.total),
    )
    reads = []
    for source, resolution, per_day, row_bytes in sources:
        rows = round(per_day * days)
        reads.append(ChartRead(source, resolution, rows, rows * row_bytes))
    return reads


@dataclass(frozen=True)
class DailyLoad:
    """One day of a study: the rows the nightly load writes, how long their COPY takes, and the size of
    the 1-day chunk they fill (the part of the table that should stay in memory while it is written)."""

    rows: int
    seconds: float
    chunk_bytes: float


def daily_load(
    participants: int,
    points_per_day: float,
    *,
    bytes_per_point: float = SAMPLE_ROW.total,
    rows_per_second: float = INGEST_ROWS_PER_SECOND,
) -> DailyLoad:
    _require_positive("rows per second", rows_per_second)
    _require_positive("bytes per point", bytes_per_point)
    rows = round(participant_days(participants, 1 / DAYS_PER_YEAR) * points_per_day)
    return DailyLoad(rows, rows / rows_per_second, rows * bytes_per_point)


# --- what each TimescaleDB edition stores, measured ------------------------------------------------
# bench/storage.py (docs/benchmarks.md) measures these on the real schema through fitpipe's loader: bytes on
# disk per row with indexes and page overheads. The Apache edition keeps every row uncompressed; the full
# edition compresses chunks older than FITPIPE_COMPRESS_AFTER_HOURS (segments per participant and metric,
# ordered by time) and keeps the newest days, rollup_1h and rollup_1d uncompressed.
RowBytes = Literal[
    "heart_rate_nominal",
    "heart_rate_realistic",
    "all_day",
    "night",
    "daily",
    "rollup_1m",
    "rollup_1h",
    "rollup_1d",
]


@dataclass(frozen=True)
class EditionCost:
    name: Literal["apache", "full"]
    title: str
    row_bytes: dict[str, float]
    """Bytes on disk per row (RowBytes keys): samples by kind, and each rollup table."""
    compressed_after_days: float | None
    """Rows newer than this stay uncompressed (at the Apache edition's cost); None: nothing is compressed."""

    def sample_bytes(self, m: MetricVolume, sampling: Sampling) -> float:
        """Per sample of metric m: heart rate by sampling rate; others by when they are recorded (all day per
        minute, at night, once a day: a day's single value is a compressed batch of its own)."""
        if m.metric == "heart_rate":
            return self.row_bytes[f"heart_rate_{sampling}"]
        return self.row_bytes[{"all day": "all_day", "sleep": "night", "daily": "daily"}[m.window]]


APACHE = EditionCost(
    "apache",
    "Apache edition",
    {
        "heart_rate_nominal": 84.1,
        "heart_rate_realistic": 85.1,
        "all_day": 85.1,
        "night": 85.1,
        "daily": 85.1,
        "rollup_1m": 121.2,
        "rollup_1h": 141.6,
        "rollup_1d": 177.7,
    },
    None,
)
FULL = EditionCost(
    "full",
    "full edition",
    {
        # integer bpm every second compresses to about a byte; irregular timestamps (realistic) cost more
        "heart_rate_nominal": 1.05,
        "heart_rate_realistic": 6.65,
        "all_day": 3.8,
        "night": 10.5,
        # one value a day is a compressed batch of one row in a 1-day chunk: bigger than uncompressed, but
        # 15 values a day
        "daily": 232.0,
        "rollup_1m": 9.0,
        "rollup_1h": APACHE.row_bytes["rollup_1h"],
        "rollup_1d": APACHE.row_bytes["rollup_1d"],
    },
    7.0,
)
EDITIONS = {e.name: e for e in (APACHE, FULL)}

DISK_HEADROOM = 0.30
"""Free space to keep on the volume beyond the data: dead rows between vacuums, index growth from late merges,
the compressed copy compress_chunk writes before it drops the original, pg_dump scratch."""
WAL_BYTES = 8e9
"""max_wal_size of the embedded database (fitpipe/localdb/server.py): WAL kept between checkpoints."""
HOT_DAYS_OF_ROLLUPS = 30
"""Days of rollups the dashboard and adherence read for every participant (their default window)."""
MIN_MEMORY_BYTES = 4 * 2**30


@dataclass(frozen=True)
class StudyFootprint:
    """Bytes on disk at the end of `years` of a study on one edition."""

    edition: EditionCost
    samples_bytes: float
    rollup_bytes: float
    sleep_bytes: float
    uncompressed_bytes: float
    """Of samples and rollups: what stays uncompressed (everything on the Apache edition)."""

    @property
    def total_bytes(self) -> float:
        return self.samples_bytes + self.rollup_bytes + self.sleep_bytes


@dataclass(frozen=True)
class Recommendation:
    disk_bytes: float
    """Footprint x (1 + DISK_HEADROOM) + WAL, rounded up to a size volumes come in."""
    memory_bytes: float
    """Twice the hot set (so shared_buffers at a quarter of RAM plus the page cache hold it), rounded up to
    4, 6, 8, 12, 16, 24, ... GiB."""
    hot_set_bytes: float
    """What the nightly load and the dashboards touch every day (see `hot_set`)."""


def study_footprint(
    metric_set: MetricSet,
    sampling: Sampling,
    participants: int,
    years: float,
    edition: EditionCost,
    *,
    apache_sample_bytes: float | None = None,
) -> StudyFootprint:
    """Measured bytes per row x rows. On the full edition the newest `compressed_after_days` of samples and
    rollup_1m stay uncompressed at the Apache edition's cost. `apache_sample_bytes` overrides the Apache cost
    of a sample (--bytes-per-point)."""
    days = participant_days(participants, years)
    r1m, r1h, r1d = metric_set.rollup_rows_per_day

    def cost(e: EditionCost) -> tuple[float, float, float]:
        """(samples, rollup_1m, rollup_1h + rollup_1d) bytes per participant-day on edition e."""
        if e is APACHE and apache_sample_bytes is not None:
            samples = metric_set.points_per_day(sampling) * apache_sample_bytes
        else:
            samples = sum(m.points(sampling) * e.sample_bytes(m, sampling) for m in metric_set.metrics)
        return (
            samples,
            r1m * e.row_bytes["rollup_1m"],
            r1h * e.row_bytes["rollup_1h"] + r1d * e.row_bytes["rollup_1d"],
        )

    fresh_samples, fresh_1m, coarse = cost(APACHE)
    sleep = side_tables(metric_set, participants, years).sleep_bytes
    if edition.compressed_after_days is None:
        return StudyFootprint(
            edition,
            fresh_samples * days,
            (fresh_1m + coarse) * days,
            sleep,
            (fresh_samples + fresh_1m + coarse) * days,
        )
    window = min(days, participants * edition.compressed_after_days)
    old = days - window
    samples, r1m_bytes, _ = cost(edition)
    return StudyFootprint(
        edition,
        samples_bytes=samples * old + fresh_samples * window,
        rollup_bytes=r1m_bytes * old + fresh_1m * window + coarse * days,
        sleep_bytes=sleep,
        uncompressed_bytes=(fresh_samples + fresh_1m) * window + coarse * days,
    )


def hot_set(metric_set: MetricSet, sampling: Sampling, participants: int, lag_days: float = 3) -> float:
    """Bytes the database should keep in memory: the day's samples chunk being written (heap and index), the
    samples index of the lag window the nightly merge looks rows up in, and HOT_DAYS_OF_ROLLUPS days of
    rollup_1h and rollup_1d (adherence and the dashboard read them for everyone; a chart's rollup_1m rows are
    read once). The same on both editions: recent chunks are never compressed."""
    per_day = metric_set.points_per_day(sampling) * participants
    index_share = SAMPLE_ROW.index / SAMPLE_ROW.total
    _, r1h, r1d = metric_set.rollup_rows_per_day
    rollups = (
        participants
        * HOT_DAYS_OF_ROLLUPS
        * (r1h * APACHE.row_bytes["rollup_1h"] + r1d * APACHE.row_bytes["rollup_1d"])
    )
    sample = APACHE.row_bytes[f"heart_rate_{sampling}"]
    return per_day * sample * (1 + lag_days * index_share) + rollups


def _round_up_nice(n: float) -> float:
    """The next size volumes are sold in: 1, 1.5, 2, 3, 4, 5, 6, 8 x a power of ten (bytes, SI)."""
    if n <= 0:
        return 0.0
    scale = 10 ** math.floor(math.log10(n))
    for step in (1, 1.5, 2, 3, 4, 5, 6, 8, 10):
        if n <= step * scale * (1 + 1e-9):
            return step * scale
    return 10 * scale


def recommend(footprint: StudyFootprint, hot_set_bytes: float) -> Recommendation:
    disk = _round_up_nice(footprint.total_bytes * (1 + DISK_HEADROOM) + WAL_BYTES)
    return Recommendation(disk, _round_up_memory(2 * hot_set_bytes), hot_set_bytes)


def _round_up_memory(n: float) -> float:
    """The next size servers come with: 4, 6, 8, 12, 16, 24, 32, ... GiB (a power of two, or 1.5 times one)."""
    size = float(MIN_MEMORY_BYTES)
    while size < n:
        size = size * 1.5 if math.log2(size).is_integer() else size * 4 / 3
    return size
