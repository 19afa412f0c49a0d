"""What parsers hand to the loader: columnar sample batches, sleep sessions and rejected records.

Timestamps are int64 microseconds since the Unix epoch, UTC. Parsers convert floating local times
with the participant's time zone (see `fitpipe.localtime`); the loader validates values against
the metric catalog, removes duplicates and writes everything of one file in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

__all__ = [
    "SampleBatch",
    "Rejected",
    "SleepStage",
    "SleepSession",
    "ParsedFile",
    "ParseContext",
    "RAW_LIMIT",
    "raw_text",
    "concat_batches",
    "merge_pieces",
]

RAW_LIMIT = 1000
"""Characters of a rejected record's raw text that are kept (quarantine.raw), whatever the source."""


def raw_text(text: str) -> str:
    """A record's text as quarantine stores it: at most RAW_LIMIT characters, NUL bytes shown as \\x00
    (PostgreSQL text cannot hold them)."""
    return text[: RAW_LIMIT * 4].replace("\x00", "\\x00")[:RAW_LIMIT]


@dataclass
class SampleBatch:
    """Samples of one metric from one file (and one participant)."""

    metric: str
    ts: np.ndarray
    """int64 microseconds since 1970-01-01 UTC."""
    value: np.ndarray
    """float64; NaN/Inf and out-of-range values are quarantined by the loader."""
    file: str
    line: np.ndarray | None = None
    """Per sample, the 1-based line of the file it came from (for quarantine messages)."""
    item: np.ndarray | None = None
    """Per sample, its 0-based index inside the line's list (wearipedia rows hold 86,400 items)."""
    participant: str | None = None
    """External participant id when the file names it (Fitabase `Id`, wearipedia `user_id`); None: the one ingested for."""
    time_field: str = "time"
    """The field the times came from, named when the loader quarantines a sample for its time."""

    def __post_init__(self) -> None:
        self.ts = np.asarray(self.ts, dtype=np.int64)
        self.value = np.asarray(self.value, dtype=np.float64)
        if self.ts.shape != self.value.shape:
            raise ValueError(
                f"{self.metric}: ts and value differ in length ({self.ts.size} vs {self.value.size})"
            )
        for name in ("line", "item"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.asarray(arr, dtype=np.int32)
                if arr.shape != self.ts.shape:
                    raise ValueError(f"{self.metric}: {name} differs in length from ts")
                setattr(self, name, arr)

    def __len__(self) -> int:
        return int(self.ts.size)

    def locate(self, i: int) -> str:
        """Human-readable position of sample i: 'line 3, item 4521', 'line 12', or 'record 17' (JSON arrays)."""
        line = int(self.line[i]) if self.line is not None and int(self.line[i]) >= 0 else None
        item = int(self.item[i]) if self.item is not None and int(self.item[i]) >= 0 else None
        if line is None:
            return f"record {item}" if item is not None else f"sample {i}"
        parts = [f"line {line}"] + ([f"item {item}"] if item is not None else [])
        return ", ".join(parts) or f"sample {i}"


@dataclass
class Rejected:
    """A record that cannot be stored: it goes to the quarantine table, never aborts a load."""

    file: str
    record: str
    """Where: 'line 12', 'line 3, item 4521', 'record 17'."""
    field: str
    reason: str
    raw: str
    participant: str | None = None
    kind: str = ""
    """Low-cardinality class of the reason for metrics (bad_timestamp, not_a_number, out_of_range,
    outside_window, nonexistent_local_time, missing_field, malformed, ...); derived from `reason` when left empty."""

    def __post_init__(self) -> None:
        self.raw = raw_text(self.raw)
        if len(self.reason) > 200 or "\x00" in self.reason:  # a reason quoting a huge cell stays readable
            self.reason = raw_text(self.reason)[:199] + ("…" if len(self.reason) > 199 else "")


@dataclass
class SleepStage:
    start: datetime
    seconds: int
    level: str
    is_short: bool = False


@dataclass
class SleepSession:
    start: datetime
    """Aware datetime (any zone; stored as UTC)."""
    end: datetime
    local_date: date
    """Fitbit's dateOfSleep: the participant's local date on which the sleep ends."""
    is_main_sleep: bool
    file: str
    record: str
    minutes_asleep: int | None = None
    minutes_awake: int | None = None
    efficiency: int | None = None
    sleep_type: str | None = None
    log_id: str | None = None
    stages: list[SleepStage] = field(default_factory=list)
    participant: str | None = None


@dataclass
class ParsedFile:
    """Everything one input file yields."""

    file: str
    kind: str
    """What the parser took the file for, e.g. 'heart_rate (Global Export JSON)'."""
    batches: list[SampleBatch] = field(default_factory=list)
    sleep: list[SleepSession] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    records_read: int = 0
    """Records (samples + sleep logs + rejected) read from the file."""
    others: dict[str, int] = field(default_factory=dict)
    """Rows of other participants that were not read (ingesting for one participant), per participant id."""


@dataclass(frozen=True)
class ParseContext:
    """What a parser needs to know about the participant the input belongs to."""

    timezone: ZoneInfo
    participant: str | None = None
    chunk_bytes: int = 16 << 20
    """Bytes of a big file read at a time by sources that stream (FITPIPE_INGEST_CHUNK_BYTES)."""


def concat_batches(parts: list[SampleBatch]) -> SampleBatch:
    """Batches of one metric and participant as one (line/item -1 where a part has none)."""
    if len(parts) == 1:
        return parts[0]

    def cat(name: str) -> np.ndarray | None:
        arrays = [getattr(p, name) for p in parts]
        if all(a is None for a in arrays):
            return None
        return np.concatenate(
            [
                a if a is not None else np.full(len(p), -1, np.int32)
                for a, p in zip(arrays, parts, strict=True)
            ]
        )

    first = parts[0]
    return SampleBatch(
        first.metric,
        np.concatenate([p.ts for p in parts]),
        np.concatenate([p.value for p in parts]),
        first.file,
        line=cat("line"),
        item=cat("item"),
        participant=first.participant,
        time_field=first.time_field,
    )


def merge_pieces(pieces: Iterable[ParsedFile], file: str, kind: str) -> ParsedFile:
    """The pieces of a file read in chunks as one ParsedFile (one batch per metric and participant)."""
    merged = ParsedFile(file=file, kind=kind)
    groups: dict[tuple[str, str | None], list[SampleBatch]] = {}
    for piece in pieces:
        merged.kind = piece.kind
        for batch in piece.batches:
            groups.setdefault((batch.metric, batch.participant), []).append(batch)
        merged.sleep += piece.sleep
        merged.rejected += piece.rejected
        merged.records_read += piece.records_read
        for who, n in piece.others.items():
            merged.others[who] = merged.others.get(who, 0) + n
    merged.batches = [concat_batches(parts) for parts in groups.values()]
    return merged
