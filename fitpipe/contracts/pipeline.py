"""/api/v1/ingest/runs and /api/v1/quarantine: the pipeline's history and its rejected records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "StudyRunCounts",
    "Run",
    "RunsAnswer",
    "QuarantineRecord",
    "QuarantineReasonCount",
    "QuarantineAnswer",
]


class StudyRunCounts(BaseModel):
    """A run's counts in one study; a count the run did not record per study is absent, never guessed."""

    participants: int | None = None
    files: int | None = None
    rows_read: int | None = None
    rows_new: int | None = None
    rows_updated: int | None = None
    rows_present: int | None = None
    rows_quarantined: int | None = None
    errors: int | None = None


class Run(BaseModel):
    id: int
    trigger: str
    status: Literal["running", "success", "partial", "failed", "aborted"]
    started_at: datetime
    finished_at: datetime | None
    seconds: float = Field(description="How long it ran (so far, while running).")
    participants: int | None = Field(description="Null for a study-scoped token when not recorded per study.")
    files: int | None
    rows_read: int | None
    rows_new: int | None
    rows_updated: int | None
    rows_present: int | None
    rows_quarantined: int | None
    errors: int | None
    error: str | None
    details: dict[str, Any] = Field(description="Run-wide details (admins only; {} for scoped tokens).")
    studies: dict[str, StudyRunCounts]


class RunsAnswer(BaseModel):
    runs: list[Run]


class QuarantineRecord(BaseModel):
    id: int
    study: str | None = Field(description="Null when the record's participant is unknown.")
    user_id: str | None
    source: str
    file: str
    record: str
    field: str
    reason: str
    raw: str
    first_seen: datetime
    last_seen: datetime


class QuarantineReasonCount(BaseModel):
    reason: str
    count: int


class QuarantineAnswer(BaseModel):
    records: list[QuarantineRecord]
    by_reason: list[QuarantineReasonCount]
