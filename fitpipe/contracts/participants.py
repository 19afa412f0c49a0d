"""/api/v1/participants and /participants/{user_id}: who is in a study and how each is doing; the report of
erasing a participant (DELETE /participants/{user_id})."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from fitpipe.adherence_rules import AdherenceRules
from fitpipe.contracts.adherence import DayColumns, ParticipantSummary

__all__ = [
    "ParticipantListEntry",
    "ParticipantsAnswer",
    "SourceState",
    "ContactLogEntry",
    "ParticipantDetail",
    "Erasure",
]


class ParticipantListEntry(ParticipantSummary):
    study: str
    email: str | None = Field(default=None, description="Only for roles that see email addresses.")


class ParticipantsAnswer(BaseModel):
    generated_at: datetime
    rules: dict[str, AdherenceRules] = Field(description="Each listed study's adherence rules.")
    participants: list[ParticipantListEntry]


class SourceState(BaseModel):
    source: str
    status: str
    configured_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None


class ContactLogEntry(BaseModel):
    at: datetime
    reasons: list[str]
    status: str
    forced: bool
    error: str | None


class ParticipantDetail(ParticipantSummary):
    study: str
    sources: list[SourceState]
    contacts: list[ContactLogEntry] = Field(description="The most recent emails, newest first.")
    rules: AdherenceRules
    days: DayColumns
    email: str | None = Field(default=None, description="Only for roles that see email addresses.")


class Erasure(BaseModel):
    study: str
    user_id: str
    erased_at: datetime | None = Field(description="When the participant was (first) erased.")
    previously_erased_at: datetime | None = Field(
        description="When an earlier erasure ran (this one then removed only what was written since)."
    )
    rows: dict[str, int] = Field(description="Rows deleted per table.")
    total_rows: int
