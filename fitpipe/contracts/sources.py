"""/api/v1/participants/{user_id}/connect: a Google consent link for a participant."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["ConsentLink"]


class ConsentLink(BaseModel):
    user_id: str
    study: str
    source: str
    authorization_url: str = Field(description="Send it to the participant.")
    expires_at: datetime
    scopes: list[str]
    source_status: str | None = Field(description="The participant's Google source status; null: none yet.")
