"""Adherence as the API reports it: the four flags raised from a participant's window summary, and the JSON
of a participant's adherence (overall, per day), shared by /adherence, /participants and /contact.

Flags are facts, evaluated independently, for participants whose status is `active` and whose enrolment
has not ended (the others get none: nobody should be reminded after leaving a study):
- no_source: no usable data source (no `participant_sources` row, or only rows in status configured,
  needs_reconsent or disabled). Data loaded by hand (`fitpipe ingest`, no source row) counts as a source.
- no_upload: no sample newer than `no_upload_hours` (`latest_sample`), or, when the participant has
  sources, no successful sync for as long (`last_sync`); `tripped_by` says which. Counted from enrolment
  (without one: from the first sample or from when the participant was added, whichever is earlier), so a
  newcomer gets the full window first.
- low_sleep: more than M − N of the last M nights inside the window have no main sleep (with a full window
  that is "fewer than N of M"; a newcomer is flagged once more than M − N nights are missing).
- low_wear: overall adherence (wear minutes / enrolled minutes of the window) below `min_adherence_pct`.

The window is the participant's local days [max(enrolment start, start_date), min(enrolment end, end_date,
yesterday)] (queries/adherence.py): without start_date/end_date the enrolment to date, as /participants,
the contact routes and the flagged-participants metric (the CohortAdherenceLow alert) use it; with them,
the requested days, as /adherence and /participants/{user_id} report them. The two flags that look back
(low_sleep, low_wear) follow the window; no_source and no_upload describe the participant now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from fitpipe.adherence_rules import FLAGS, AdherenceRules, StudyRules, study_rules
from fitpipe_api.queries.adherence import DAY_FIELDS, DayColumns, WindowSummary, read_summaries

__all__ = [
    "Flag",
    "evaluate_flags",
    "summary_json",
    "days_json",
    "source_status",
    "rules_of_study",
    "default_reasons",
    "flagged_counts",
]

USABLE_SOURCE = ("active", "error")


@dataclass(frozen=True)
class Flag:
    name: str
    message: str
    """What is wrong, in words (for the dashboard; the email template words it for the participant)."""
    detail: dict[str, Any] = field(default_factory=dict)


def _ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    hours = (now - then).total_seconds() / 3600
    return f"{then.isoformat(timespec='minutes')} ({hours:.0f} h ago)"


def adherence_pct(s: WindowSummary) -> float | None:
    if not s.enrolled_minutes:
        return None
    return 100.0 * s.wear_minutes / s.enrolled_minutes


def source_status(s: WindowSummary) -> str:
    """One word for the sources: the best status any has; `manual` when data came without a source row."""
    statuses = {src["status"] for src in s.sources}
    for status in ("active", "error", "needs_reconsent", "configured", "disabled"):
        if status in statuses:
            return status
    return "manual" if s.latest_sample is not None else "none"


def flags_apply(s: WindowSummary, now: datetime) -> bool:
    return s.status == "active" and (s.enrolment_end is None or s.enrolment_end > now)


def evaluate_flags(s: WindowSummary, rules: AdherenceRules, now: datetime) -> list[Flag]:
    if not flags_apply(s, now):
        return []
    flags: list[Flag] = []
    usable = any(src["status"] in USABLE_SOURCE for src in s.sources)
    if not usable and not (not s.sources and s.latest_sample is not None):
        if not s.sources:
            why = "no data source yet"
        else:
            why = "no usable data source: " + ", ".join(
                f"{src['source']} is {src['status']}" for src in s.sources
            )
        flags.append(
            Flag(
                "no_source",
                why,
                {"sources": [{"source": x["source"], "status": x["status"]} for x in s.sources]},
            )
        )

    window = timedelta(hours=rules.no_upload_hours)
    since = s.enrolment_start or s.created_at
    if s.enrolment_start is None and s.enrolled_since is not None:  # data older than the participant's row
        since = min(since, datetime.combine(s.enrolled_since, time(0), tzinfo=ZoneInfo(s.timezone)))
    if now - since >= window:
        tripped = []
        if s.latest_sample is None or now - s.latest_sample > window:
            tripped.append("latest_sample")
        if s.sources and (s.last_sync is None or now - s.last_sync > window):
            tripped.append("last_sync")
        if tripped:
            parts = []
            if "latest_sample" in tripped:
                parts.append(f"newest sample {_ago(s.latest_sample, now)}")
            if "last_sync" in tripped:
                parts.append(f"last successful sync {_ago(s.last_sync, now)}")
            flags.append(
                Flag(
                    "no_upload",
                    f"no upload for {rules.no_upload_hours:g} h: " + "; ".join(parts),
                    {
                        "tripped_by": tripped,
                        "latest_sample": s.latest_sample,
                        "last_sync": s.last_sync,
                        "hours": rules.no_upload_hours,
                    },
                )
            )

    missed = s.nights_considered - s.nights_recorded
    if s.nights_considered and missed > rules.sleep_window_nights - rules.sleep_nights:
        flags.append(
            Flag(
                "low_sleep",
                f"a main sleep on {s.nights_recorded} of the last {s.nights_considered} nights "
                f"(wanted: {rules.sleep_nights} of {rules.sleep_window_nights})",
                {
                    "nights_recorded": s.nights_recorded,
                    "nights_considered": s.nights_considered,
                    "nights_wanted": rules.sleep_nights,
                    "window_nights": rules.sleep_window_nights,
                },
            )
        )

    pct = adherence_pct(s)
    if pct is not None and pct < rules.min_adherence_pct:
        flags.append(
            Flag(
                "low_wear",
                f"adherence {pct:.1f} % from {s.first_day} to {s.last_day} "
                f"(wanted: {rules.min_adherence_pct:g} %)",
                {
                    "adherence_pct": round(pct, 2),
                    "min_adherence_pct": rules.min_adherence_pct,
                    "since": s.first_day,
                    "until": s.last_day,
                },
            )
        )
    return sorted(flags, key=lambda f: FLAGS.index(f.name))


def default_reasons(flags: list[Flag]) -> list[str]:
    """What an email names when the caller names no reason: the flags, or only no_source when it is raised
    (without a connected source, low wear and sleep follow from it and are not the participant's doing)."""
    names = [f.name for f in flags]
    return ["no_source"] if "no_source" in names else names


def summary_json(s: WindowSummary, rules: AdherenceRules, now: datetime) -> dict[str, Any]:
    """Everything /participants and /adherence say about one participant besides days and contact details."""
    flags = evaluate_flags(s, rules, now)
    pct = adherence_pct(s)
    return {
        "user_id": s.user_id,
        "timezone": s.timezone,
        "status": s.status,
        "enrolment_start": s.enrolment_start,
        "enrolment_end": s.enrolment_end,
        "window": {"first_day": s.first_day, "last_day": s.last_day, "days": s.enrolled_days},
        "adherence": {
            "wear_minutes": s.wear_minutes,
            "enrolled_minutes": s.enrolled_minutes,
            "adherence_pct": None if pct is None else round(pct, 2),
            "valid_days": s.valid_days,
            "days": s.enrolled_days,
        },
        "sleep": {"nights_recorded": s.nights_recorded, "nights_considered": s.nights_considered},
        "latest_sample": s.latest_sample,
        "last_sync": s.last_sync,
        "source_status": source_status(s),
        "flags_apply": flags_apply(s, now),
        "flags": [f.name for f in flags],
        "flag_details": {f.name: {"message": f.message, **f.detail} for f in flags},
        "last_contacted": s.last_contacted,
    }


def days_json(columns: DayColumns | None, valid_hours: bool = True) -> dict[str, Any]:
    """Columnar days: each field an array, index i is one local day; valid_hours is null when not asked for."""
    if columns is None:
        columns = {name: () for name in DAY_FIELDS}
    return columns | {"valid_hours": columns["valid_hours"] if valid_hours else None}


def rules_of_study(conn: psycopg.Connection, study_id: int) -> tuple[str, StudyRules]:
    row = conn.execute("SELECT name, settings FROM studies WHERE id = %s", (study_id,)).fetchone()
    assert row is not None, "the caller checked the study exists"
    return row[0], study_rules(row[0], row[1])


def flagged_counts(conn: psycopg.Connection) -> Mapping[str, int]:
    """Active participants with at least one flag, per study (the monitoring's FlaggedCounter)."""
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    for (study_id,) in conn.execute("SELECT id FROM studies ORDER BY name").fetchall():
        name, rules = rules_of_study(conn, study_id)
        counts[name] = sum(
            1
            for s in read_summaries(conn, study_id, rules.adherence, now=now)
            if evaluate_flags(s, rules.adherence, now)
        )
    return counts
