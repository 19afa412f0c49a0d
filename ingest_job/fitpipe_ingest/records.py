"""What parsers hand to the loader: columnar sample batches, sleep sessions and rejected records.

Timestamps are int64 microseconds since the Unix epoch, UTC. Parsers convert floating local times
with the participant's time zone (see `fitpipe_ingest.localtime`); the loader validates values against
the metric catalog, removes duplicates and writes everything of one file in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

__all__ = ["SampleBatch", "Rejected", "SleepStage", "SleepSession", "ParsedFile", "ParseContext"]


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
        """Human-readable position of sample i: 'line 3, item 4521' or 'line 12'."""
        parts = []
        if self.line is not None:
            parts.append(f"line {int(self.line[i])}")
        if self.item is not None and int(self.item[i]) >= 0:
            parts.append(f"item {int(self.item[i])}")
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
    nonexistent_local_time, missing_field, malformed, ...); derived from `reason` when left empty."""


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


@dataclass(frozen=True)
class ParseContext:
    """What a parser needs to know about the participant the input belongs to."""

    timezone: ZoneInfo
    participant: str | None = None
