"""Answers of the contact routes: one result per participant emailed (or previewed, refused, failed)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["ContactStatus", "ContactResult", "ContactRefused", "ContactCounts", "FlaggedContactAnswer"]

ContactStatus = Literal["sent", "refused", "failed", "preview"]


class ContactResult(BaseModel):
    user_id: str
    study: str
    status: ContactStatus
    reasons: list[str]
    forced: bool
    would_be: ContactStatus | None = Field(default=None, description="A preview's status had it been sent.")
    error: str | None = None
    last_contacted: datetime | None = None
    retry_after: datetime | None = Field(default=None, description="When the cooldown ends.")
    subject: str | None = None
    to: str | None = Field(default=None, description="Only in a preview.")
    body: str | None = Field(default=None, description="Only in a preview.")


class ContactRefused(ContactResult):
    """409 (cooldown, no address) or 502 (the mail server failed): the result, what happened and what to do."""

    detail: str | None
    hint: str


class ContactCounts(BaseModel):
    sent: int
    refused: int
    failed: int
    preview: int


class FlaggedContactAnswer(BaseModel):
    study: str
    dry_run: bool
    force: bool
    generated_at: datetime
    counts: ContactCounts
    results: list[ContactResult]
