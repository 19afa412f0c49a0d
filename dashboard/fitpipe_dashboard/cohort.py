"""The cohort table's rows, the counts above it and the what-if flags for thresholds edited on the page,
computed from the API's /participants answer (no database, no second definition of adherence).

With the study's own thresholds the flags are the API's, word for word. Edited thresholds re-evaluate the
three flags that have one (low_wear, no_upload, low_sleep) on the same summary figures: a what-if view;
emails always follow the study's rules, which the API applies.

A grid row is a CohortRow: the grid's column ids (layout/cohort.py) and its scripts' `params.data.<field>`
are this model's fields, checked when the layout is built and by the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict

from fitpipe.adherence_rules import AdherenceRules
from fitpipe.contracts import ParticipantsAnswer, ParticipantSummary
from fitpipe_dashboard.timefmt import hours_since

__all__ = [
    "Thresholds",
    "CohortRow",
    "CohortCounts",
    "FLAG_LABELS",
    "cohort_rows",
    "row_data",
    "cohort_counts",
    "what_if_flags",
    "flags_for",
    "studies_of",
]

FLAG_LABELS = {
    "no_source": "no token",
    "no_upload": "no upload",
    "low_sleep": "low sleep",
    "low_wear": "low wear",
}
"""The challenge's four flags: no token yet; no upload in 48 h; low sleep upload; adherence < 70 %."""


@dataclass(frozen=True)
class Thresholds:
    min_adherence_pct: float
    no_upload_hours: float
    sleep_nights: int

    @classmethod
    def of(cls, rules: AdherenceRules) -> Thresholds:
        return cls(float(rules.min_adherence_pct), float(rules.no_upload_hours), int(rules.sleep_nights))


class CohortRow(BaseModel):
    """One participant in the cohort grid (hours are since the answer was made, 2 decimals)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    study: str
    status: str
    adherence_pct: float | None
    valid_days: int
    days: int
    last_sample_h: float | None
    last_sync_h: float | None
    source_status: str
    sleep_nights: int
    sleep_text: str
    flags: str
    """The flags, space-separated (what the grid filters on and FlagBadges draws)."""
    flag_count: int
    flag_notes: str
    last_contacted_h: float | None
    in_cooldown: bool
    contact: str
    """The Email cell's text."""


@dataclass(frozen=True)
class CohortCounts:
    enrolled: int
    flagged: int
    syncing_today: int
    participants: int


def studies_of(answer: ParticipantsAnswer) -> list[str]:
    return sorted({p.study for p in answer.participants} | set(answer.rules))


def what_if_flags(p: ParticipantSummary, t: Thresholds, rules: AdherenceRules, now: datetime) -> list[str]:
    """The four flags of one participant under thresholds `t` (the API's definitions, docs/adherence.md)."""
    if not p.flags_apply:
        return []
    flags = ["no_source"] if "no_source" in p.flags else []
    window = timedelta(hours=t.no_upload_hours)
    since = p.enrolment_start
    if since is None and p.window.first_day is not None:
        since = datetime.combine(p.window.first_day, time(), tzinfo=UTC)
    if since is None or now - since >= window:
        sample = hours_since(p.latest_sample, now)
        has_source = p.source_status not in ("manual", "none")
        sync = hours_since(p.last_sync, now)
        if (sample is None or sample > t.no_upload_hours) or (
            has_source and (sync is None or sync > t.no_upload_hours)
        ):
            flags.append("no_upload")
    considered, recorded = p.sleep.nights_considered, p.sleep.nights_recorded
    if considered and considered - recorded > rules.sleep_window_nights - t.sleep_nights:
        flags.append("low_sleep")
    pct = p.adherence.adherence_pct
    if pct is not None and pct < t.min_adherence_pct:
        flags.append("low_wear")
    return flags


def flags_for(p: ParticipantSummary, t: Thresholds, rules: AdherenceRules, now: datetime) -> list[str]:
    """The API's flags when `t` are the study's thresholds, else the what-if flags."""
    if t == Thresholds.of(rules):
        return list(p.flags)
    return what_if_flags(p, t, rules, now)


def cohort_rows(
    answer: ParticipantsAnswer, study: str | None, t: Thresholds | None, now: datetime, cooldown_hours: float
) -> list[CohortRow]:
    """One grid row per participant of `study` (all studies when None)."""
    rows = []
    for p in answer.participants:
        if study and p.study != study:
            continue
        rules = answer.rules[p.study]
        flags = flags_for(p, t or Thresholds.of(rules), rules, now)
        contacted = hours_since(p.last_contacted, now)
        sleep = p.sleep
        rows.append(
            CohortRow(
                user_id=p.user_id,
                study=p.study,
                status=p.status,
                adherence_pct=p.adherence.adherence_pct,
                valid_days=p.adherence.valid_days,
                days=p.adherence.days,
                last_sample_h=_round(hours_since(p.latest_sample, now)),
                last_sync_h=_round(hours_since(p.last_sync, now)),
                source_status=p.source_status,
                sleep_nights=sleep.nights_recorded,
                sleep_text=f"{sleep.nights_recorded} of {sleep.nights_considered}",
                flags=" ".join(flags),
                flag_count=len(flags),
                flag_notes="; ".join(d.message for d in p.flag_details.values()),
                last_contacted_h=_round(contacted),
                in_cooldown=contacted is not None and contacted < cooldown_hours,
                contact="Email",
            )
        )
    return rows


def row_data(rows: Sequence[CohortRow]) -> list[dict[str, object]]:
    """The grid's rowData: each row's fields as JSON (the column ids of layout/cohort.py)."""
    return [row.model_dump(mode="json") for row in rows]


def _round(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 2)


def cohort_counts(rows: Sequence[CohortRow]) -> CohortCounts:
    """Enrolled (active), flagged (at least one flag), syncing today (a sync or, without a source, a sample
    in the last 24 h)."""

    def synced(r: CohortRow) -> bool:
        h = r.last_sync_h if r.source_status not in ("manual", "none") else r.last_sample_h
        return h is not None and h <= 24

    return CohortCounts(
        enrolled=sum(1 for r in rows if r.status == "active"),
        flagged=sum(1 for r in rows if r.flag_count),
        syncing_today=sum(1 for r in rows if synced(r)),
        participants=len(rows),
    )
