"""/api/v1/sleep: a participant's sleep sessions with their stage intervals (the hypnogram)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

__all__ = ["SleepStages", "SleepSession", "SleepAnswer"]


class SleepStages(BaseModel):
    """Columnar stage intervals; index i of every list is one interval."""

    start: list[datetime]
    seconds: list[int]
    level: list[str]
    is_short: list[bool]


class SleepSession(BaseModel):
    start: datetime
    end: datetime
    local_date: date = Field(description="The local date the night ends.")
    is_main_sleep: bool
    minutes_asleep: int | None
    minutes_awake: int | None
    efficiency: int | None
    sleep_type: str | None
    source: str
    stages: SleepStages


class SleepAnswer(BaseModel):
    user_id: str
    study: str
    timezone: str
    start_date: date
    end_date: date
    sessions: list[SleepSession]
