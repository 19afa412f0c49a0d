"""/healthz and /readyz answers (no authentication)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Liveness", "Readiness", "SchemaRange", "NotReady"]


class Liveness(BaseModel):
    status: Literal["ok"]


class SchemaRange(BaseModel):
    oldest: int = Field(description="The oldest schema version this code runs on.")
    newest_known: int = Field(description="The newest migration this code ships.")


class Readiness(BaseModel):
    status: Literal["ready"]
    schema_version: int = Field(description="The database's newest applied migration.")
    schema_supported: SchemaRange
    database_login: str | None = Field(default=None, description="The API's database login.")
    warning: str | None = Field(
        default=None, description="Set when the login is not least-privilege (allowed by configuration)."
    )


class NotReady(BaseModel):
    status: Literal["not ready"]
    detail: str
    hint: str | None = None
