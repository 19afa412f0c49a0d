"""Answers of /api/v1/auth: who a token acts as, and a new session."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["Person", "SessionOut"]


class Person(BaseModel):
    username: str | None = Field(description="The signed-in person; null for an API token of no person.")
    name: str = Field(description="The user name, or the API token's name.")
    role: str
    all_studies: bool
    studies: list[str] = Field(description="The studies visible (empty when all_studies).")
    can_contact: bool = Field(description="May email participants.")
    sees_emails: bool = Field(description="Sees participants' email addresses.")


class SessionOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; shown only now.")
    expires_at: datetime = Field(description="The session ends then at the latest.")
    idle_timeout_seconds: float = Field(description="…or after this long without a request.")
    person: Person
