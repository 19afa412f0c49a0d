"""What a run use-case returns to its caller (the CLI formats it; nothing here prints)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fitpipe.storage import MaintenanceReport
from fitpipe_ingest.counts import IngestSummary
from fitpipe_ingest.google_health.run import SyncReport

__all__ = ["RunOutcome", "why_nothing"]


@dataclass
class RunOutcome:
    run_id: int
    status: str
    """success, partial or failed (see runs.run_status)."""
    summary: IngestSummary
    nothing_loaded: list[str] = field(default_factory=list)
    """When the run stored nothing and found nothing already stored: why, file by file."""
    participants_total: int = 0
    participants_without_data: list[str] = field(default_factory=list)
    participants_failed: dict[str, str] = field(default_factory=dict)
    live: SyncReport = field(default_factory=SyncReport)
    errors: list[str] = field(default_factory=list)
    """Everything that failed, one line each (also the run record's error)."""
    storage: MaintenanceReport | None = None
    """The storage step after the loads (retention, compression); None when it did not run or failed."""
    storage_error: str | None = None
    """Why the storage step failed (it never changes the run's own status)."""

    @property
    def failures(self) -> int:
        return len(self.errors) + (self.storage_error is not None)


def why_nothing(summary: IngestSummary) -> list[str]:
    """Why each file of an ingest that stored nothing contributed nothing."""
    reasons = []
    for f in summary.files:
        if f.status == "failed":
            reasons.append(f"{f.file}: failed: {f.error}")
        elif f.status == "unknown":
            reasons.append(f"{f.file}: not a file fitpipe reads ({f.kind})")
        elif f.status == "skipped":
            reasons.append(f"{f.file}: {f.error}")
        elif f.status == "loaded":
            if f.note:
                reasons.append(f"{f.file}: {f.note}")
            elif f.quarantined:
                reasons.append(f"{f.file}: every record was quarantined ({f.quarantined:,})")
            else:
                reasons.append(f"{f.file}: no records in it")
    return reasons or ["the input holds no files"]
