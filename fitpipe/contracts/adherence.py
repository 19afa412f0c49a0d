"""A participant's adherence as /participants, /participants/{user_id} and /adherence report it: the window,
overall figures, nights, flags (fitpipe_api.adherence) and the columnar local days."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fitpipe.adherence_rules import AdherenceRules

__all__ = [
    "Window",
    "AdherenceFigures",
    "SleepNights",
    "FlagDetail",
    "ParticipantSummary",
    "DayColumns",
    "AdherenceParticipant",
    "AdherenceAnswer",
    "SourceStatus",
]

SourceStatus = Literal["active", "error", "needs_reconsent", "configured", "disabled", "manual", "none"]


class Window(BaseModel):
    first_day: date | None = Field(description="First local day of the window; null: no day yet.")
    last_day: date | None
    days: int


class AdherenceFigures(BaseModel):
    wear_minutes: int
    enrolled_minutes: int | None = Field(description="Minutes of the window's local days; null: no day.")
    adherence_pct: float | None = Field(description="wear / enrolled minutes, in %, 2 decimals.")
    valid_days: int
    days: int


class SleepNights(BaseModel):
    nights_recorded: int
    nights_considered: int


class FlagDetail(BaseModel):
    """Why a flag is raised: `message` in words, and the figures behind it (they differ per flag)."""

    model_config = ConfigDict(extra="allow")

    message: str


class ParticipantSummary(BaseModel):
    user_id: str
    timezone: str
    status: str
    enrolment_start: datetime | None
    enrolment_end: datetime | None
    window: Window
    adherence: AdherenceFigures
    sleep: SleepNights
    latest_sample: datetime | None
    last_sync: datetime | None
    source_status: SourceStatus
    flags_apply: bool = Field(description="Flags are evaluated (active and enrolled).")
    flags: list[Literal["no_source", "no_upload", "low_sleep", "low_wear"]]
    flag_details: dict[str, FlagDetail]
    last_contacted: datetime | None


class DayColumns(BaseModel):
    """One participant's local days, ascending; index i of every list is one day."""

    date: list[date]
    wear_minutes: list[int]
    day_minutes: list[int]
    wear_pct: list[float | None]
    valid_day: list[bool]
    valid_hours: list[int] | None = Field(description="Valid hours per day; null unless asked for.")
    steps: list[int | None] = Field(description="Steps per day; null without step data.")
    low_steps: list[bool | None]
    sleep_recorded: list[bool]


class AdherenceParticipant(ParticipantSummary):
    days: DayColumns


class AdherenceAnswer(BaseModel):
    study: str
    start_date: date | None
    end_date: date | None
    default_days: int
    valid_hours: bool
    generated_at: datetime
    rules: AdherenceRules
    participants: list[AdherenceParticipant]
