"""The adherence definitions in one place: wear minute, valid hour and day, low-step days, the four flags and
the contact cooldown, with their defaults and how a study overrides them in `studies.settings`.

A study overrides any of them with JSON in `studies.settings` (unknown names are refused, so a typo never
silently falls back to a default):

    {"adherence": {"valid_day_minutes": 480, "sleep_nights": 4}, "contact": {"cooldown_hours": 24}}

Definitions (sources in docs/adherence.md):
- a wear minute is a minute with at least one heart-rate sample (RAPIDS' valid minute);
- a valid hour has >= `valid_hour_minutes` wear minutes, a valid day >= `valid_day_minutes`;
- a day with fewer than `low_steps` steps is marked (the device may have sat on a table);
- flags: no data source (`no_source`), no upload for `no_upload_hours` (`no_upload`), fewer than
  `sleep_nights` of the last `sleep_window_nights` nights with a main sleep (`low_sleep`), overall
  adherence below `min_adherence_pct` (`low_wear`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fitpipe.errors import ConfigError

__all__ = ["AdherenceRules", "ContactRules", "StudyRules", "study_rules", "FLAGS"]

FLAGS = ("no_source", "no_upload", "low_sleep", "low_wear")
"""The four flags, in the order they are reported; they double as the contact template reasons."""


class AdherenceRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    valid_hour_minutes: int = Field(
        default=30, ge=1, le=60, description="Wear minutes that make an hour valid."
    )
    valid_day_minutes: int = Field(
        default=600, ge=1, le=1500, description="Wear minutes that make a day valid (10 h)."
    )
    low_steps: int = Field(
        default=100, ge=0, description="A day with fewer steps than this is marked low_steps."
    )
    min_adherence_pct: float = Field(
        default=70, ge=0, le=100, description="Overall adherence (%) below this raises low_wear."
    )
    no_upload_hours: float = Field(
        default=48, gt=0, description="No new sample / no successful sync for this long raises no_upload."
    )
    sleep_nights: int = Field(
        default=5, ge=0, description="N: nights with a main sleep wanted among the last M."
    )
    sleep_window_nights: int = Field(
        default=7, ge=1, le=366, description="M: how many recent nights low_sleep looks at."
    )
    min_sleep_minutes: int = Field(
        default=0,
        ge=0,
        le=1440,
        description="A night counts only with at least this many minutes asleep (0: any main sleep).",
    )

    @model_validator(mode="after")
    def _n_within_m(self) -> AdherenceRules:
        if self.sleep_nights > self.sleep_window_nights:
            raise ValueError(
                f"sleep_nights ({self.sleep_nights}) exceeds sleep_window_nights ({self.sleep_window_nights})"
            )
        return self


class ContactRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cooldown_hours: float | None = Field(
        default=None,
        ge=0,
        description="No second email within this window; None: FITPIPE_CONTACT_COOLDOWN_HOURS.",
    )


class StudyRules(BaseModel):
    """The `studies.settings` document as far as adherence and contact are concerned."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # other sections belong to other features

    adherence: AdherenceRules = AdherenceRules()
    contact: ContactRules = ContactRules()


def study_rules(study: str, settings: Mapping[str, Any] | None) -> StudyRules:
    """The rules of a study from its `studies.settings` JSON; defaults for everything it does not set."""
    try:
        return StudyRules.model_validate(settings or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"study {study!r} has invalid adherence/contact settings: {problems}",
            hint="fix studies.settings; known names: adherence."
            + ", adherence.".join(AdherenceRules.model_fields)
            + ", contact.cooldown_hours",
        ) from None
