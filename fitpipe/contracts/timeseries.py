"""/api/v1/timeseries as JSON: columnar series, one list per field, index i being one point.

Which optional columns a series carries depends on its granularity and on impute (docs/imputation.md):
- aggregated (1m, 1h, 1d): min, max, count; sum for metrics summed per bucket;
- impute=auto at 1m: lo/hi, the 95 % interval of imputed minutes (null for observed ones);
- impute=auto at 1h/1d: v_observed (the observed-only mean) and imputed_minutes per bucket;
- impute=auto at any aggregated granularity: the gaps left empty (empty_gap_start/minutes/reason).
Absent columns are null here, never guessed: a client tests `series.v_observed is not None`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Series", "TimeseriesAnswer", "Granularity"]

Granularity = Literal["raw", "1m", "1h", "1d"]


class Series(BaseModel):
    user_id: str
    study: str
    metric: str
    unit: str
    aggregation: Literal["mean", "sum"]
    timezone: str = Field(description="The participant's IANA time zone (local days are its days).")
    granularity: Granularity = Field(description="What was read (auto resolved).")
    start: datetime = Field(description="Start of the span read (aligned to whole buckets).")
    end: datetime = Field(description="End of the span read (exclusive).")
    points: int
    imputed_points: int
    t: list[datetime] = Field(description="Instants (UTC): a sample's time or a bucket's start.")
    v: list[float | None] = Field(description="Values: samples, or bucket means (sums for daily sums).")
    imputed: list[bool]
    min: list[float | None] | None = None
    max: list[float | None] | None = None
    count: list[int] | None = Field(default=None, description="Samples in each bucket.")
    sum: list[float | None] | None = None
    lo: list[float | None] | None = Field(default=None, description="Lower 95 % bound of imputed minutes.")
    hi: list[float | None] | None = Field(default=None, description="Upper 95 % bound of imputed minutes.")
    v_observed: list[float | None] | None = Field(
        default=None, description="Observed-only bucket means (impute=auto at 1h/1d)."
    )
    imputed_minutes: list[int] | None = None
    empty_gap_start: list[datetime] | None = None
    empty_gap_minutes: list[int] | None = None
    empty_gap_reason: list[int] | None = Field(
        default=None, description="Index into the reasons of docs/imputation.md."
    )


class TimeseriesAnswer(BaseModel):
    granularity_requested: Literal["auto", "raw", "1m", "1h", "1d"]
    impute: Literal["none", "auto"]
    point_budget: int
    series: list[Series]
