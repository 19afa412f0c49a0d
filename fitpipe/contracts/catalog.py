"""/api/v1/metrics-catalog: the metrics fitpipe stores (fitpipe.catalog.Metric, as JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["MetricInfo", "CatalogAnswer"]


class MetricInfo(BaseModel):
    id: int
    name: str
    unit: str
    resolution: str = Field(description="Native resolution of the usual source: 1s, 1min, 5min, 1d, night.")
    min_value: float
    max_value: float
    aggregation: Literal["mean", "sum"] = Field(description="How a bucket of this metric is read.")
    description: str
    daily: bool = Field(description="One value per local day, stored at the participant's local midnight.")


class CatalogAnswer(BaseModel):
    metrics: list[MetricInfo]
