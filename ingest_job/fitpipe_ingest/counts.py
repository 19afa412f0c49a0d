"""Counters of what a load read and wrote, per metric and per file, summed up for a run's summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

__all__ = ["MetricCounts", "FileResult", "IngestSummary"]


@dataclass
class MetricCounts:
    read: int = 0
    new: int = 0
    updated: int = 0
    present: int = 0
    """Already stored with the same value, or before the file's cursor window (loaded earlier)."""
    duplicates: int = 0
    """Repeated timestamps within the input (the last value read is kept)."""
    quarantined: int = 0

    def add(self, other: MetricCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class FileResult:
    file: str
    kind: str
    source: str
    status: str = "loaded"
    """loaded; unchanged (same content loaded before; not read); unknown (no source reads it); skipped (not
    read on purpose: a symbolic link, an unsafe archive path, over a size limit); failed (nothing of it stored)."""
    read: int = 0
    """Samples read from the file."""
    metrics: dict[str, MetricCounts] = field(default_factory=dict)
    """Per-metric counts when the file was loaded on its own (groups report counts to the summary only)."""
    sleep_new: int = 0
    sleep_present: int = 0
    quarantined: int = 0
    quarantine_kinds: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    """Why it failed or was skipped."""
    note: str | None = None
    """Why a loaded file yielded nothing, e.g. none of its rows is the participant's."""
    seconds: float = 0.0


@dataclass
class IngestSummary:
    participants: set[str] = field(default_factory=set)
    files: list[FileResult] = field(default_factory=list)
    metrics: dict[tuple[str, str], MetricCounts] = field(default_factory=dict)
    """(metric, source) -> counts, accumulated as loads commit."""
    seconds: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)
    """More run details from other passes (the live sources' counts, token_refresh_failures); merged into details()."""

    def merge(self, other: IngestSummary) -> None:
        """Fold another summary (one participant's, say) into this one."""
        self.participants |= other.participants
        self.files += other.files
        for (metric, source), c in other.metrics.items():
            self.metrics.setdefault((metric, source), MetricCounts()).add(c)
        self.seconds += other.seconds

    def add_counts(self, source: str, counts: dict[str, MetricCounts]) -> None:
        for metric, c in counts.items():
            self.metrics.setdefault((metric, source), MetricCounts()).add(c)

    def by_metric(self) -> dict[tuple[str, str], MetricCounts]:
        """(metric, source) -> counts over all files."""
        return dict(sorted(self.metrics.items()))

    def total(self) -> MetricCounts:
        total = MetricCounts()
        for counts in self.by_metric().values():
            total.add(counts)
        return total

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def with_status(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    def stored_or_found(self) -> bool:
        """Whether the ingest stored anything new or changed, or found what it read already stored."""
        total = self.total()
        return bool(
            total.new
            or total.updated
            or total.present
            or any(f.status == "unchanged" or f.sleep_new or f.sleep_present for f in self.files)
        )

    def token_refresh_failures(self) -> dict[str, int]:
        """Failed access-token refreshes per study, as the live sources reported them into `extra`."""
        failures = self.extra.get("token_refresh_failures")
        if not isinstance(failures, dict):
            return {}
        return {str(k): int(v) for k, v in failures.items() if isinstance(v, int) and not isinstance(v, bool)}

    @property
    def quarantine_kinds(self) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for f in self.files:
            kinds.update(f.quarantine_kinds)
        return kinds

    def details(self) -> dict[str, object]:
        """The JSON stored in ingest_runs.details: run-wide details for people, and (until a contract step drops
        them) the counts the previous release's metrics collector reads; this release reads the typed ones."""
        return {
            "metrics": {
                f"{metric}|{source}": {"metric": metric, "source": source, **asdict(c)}
                for (metric, source), c in self.by_metric().items()
            },
            "quarantine_reasons": dict(self.quarantine_kinds),
            "files": {
                status: sum(1 for f in self.files if f.status == status)
                for status in ("loaded", "unchanged", "unknown", "skipped", "failed")
            },
            "sleep": {
                "new": sum(f.sleep_new for f in self.files),
                "present": sum(f.sleep_present for f in self.files),
            },
            "failed_files": [{"file": f.file, "error": f.error} for f in self.failed][:50],
            "unknown_files": [f.file for f in self.files if f.status == "unknown"][:200],
            "skipped_files": [
                {"file": f.file, "reason": f.error} for f in self.files if f.status == "skipped"
            ][:200],
            **self.extra,
        }
