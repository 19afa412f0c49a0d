"""The dashboard's addresses: / (cohort), /participant/<study>/<user_id>, /pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["Route", "parse_path", "participant_path"]


@dataclass(frozen=True)
class Route:
    page: str
    """cohort, participant or pipeline."""
    study: str | None = None
    user_id: str | None = None


def participant_path(study: str, user_id: str) -> str:
    return f"/participant/{quote(study, safe='')}/{quote(user_id, safe='')}"


def parse_path(pathname: str | None) -> Route:
    parts = [unquote(p) for p in (pathname or "/").strip("/").split("/") if p]
    if len(parts) == 3 and parts[0] == "participant":
        return Route("participant", parts[1], parts[2])
    if parts == ["pipeline"]:
        return Route("pipeline")
    return Route("cohort")
