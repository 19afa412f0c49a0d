"""The cohort table's rows, the counts above it and the what-if flags for thresholds edited on the page,
computed from the API's /participants answer (no database, no second definition of adherence).

With the study's own thresholds the flags are the API's, word for word. Edited thresholds re-evaluate the
three flags that have one (low_wear, no_upload, low_sleep) on the same summary figures: a what-if view;
emails always follow the study's rules, which the API applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fitpipe_dashboard.timefmt import hours_since, parse_instant

__all__ = [
    "Thresholds",
    "FLAG_LABELS",
    "cohort_rows",
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
    def of(cls, rules: dict[str, Any]) -> Thresholds:
        return cls(
            float(rules["min_adherence_pct"]), float(rules["no_upload_hours"]), int(rules["sleep_nights"])
        )


def studies_of(answer: dict[str, Any]) -> list[str]:
    return sorted({p["study"] for p in answer.get("participants", [])} | set(answer.get("rules", {})))


def what_if_flags(p: dict[str, Any], t: Thresholds, rules: dict[str, Any], now: datetime) -> list[str]:
    """The four flags of one participant under thresholds `t` (the API's definitions, docs/adherence.md)."""
    if not p.get("flags_apply", True):
        return []
    flags = ["no_source"] if "no_source" in p["flags"] else []
    window = timedelta(hours=t.no_upload_hours)
    since = parse_instant(p.get("enrolment_start"))
    if since is None and p["window"].get("first_day"):
        since = parse_instant(p["window"]["first_day"] + "T00:00:00+00:00")
    if since is None or now - since >= window:
        sample = hours_since(p.get("latest_sample"), now)
        has_source = p.get("source_status") not in ("manual", "none")
        sync = hours_since(p.get("last_sync"), now)
        if (sample is None or sample > t.no_upload_hours) or (
            has_source and (sync is None or sync > t.no_upload_hours)
        ):
            flags.append("no_upload")
    considered, recorded = p["sleep"]["nights_considered"], p["sleep"]["nights_recorded"]
    if considered and considered - recorded > int(rules["sleep_window_nights"]) - t.sleep_nights:
        flags.append("low_sleep")
    pct = p["adherence"]["adherence_pct"]
    if pct is not None and pct < t.min_adherence_pct:
        flags.append("low_wear")
    return flags


def flags_for(p: dict[str, Any], t: Thresholds, rules: dict[str, Any], now: datetime) -> list[str]:
    """The API's flags when `t` are the study's thresholds, else the what-if flags."""
    if t == Thresholds.of(rules):
        return list(p["flags"])
    return what_if_flags(p, t, rules, now)


def cohort_rows(
    answer: dict[str, Any], study: str | None, t: Thresholds | None, now: datetime, cooldown_hours: float
) -> list[dict[str, Any]]:
    """One grid row per participant of `study` (all studies when None)."""
    rows = []
    for p in answer.get("participants", []):
        if study and p["study"] != study:
            continue
        rules = answer["rules"][p["study"]]
        flags = flags_for(p, t or Thresholds.of(rules), rules, now)
        contacted = hours_since(p.get("last_contacted"), now)
        sleep = p["sleep"]
        rows.append(
            {
                "user_id": p["user_id"],
                "study": p["study"],
                "status": p["status"],
                "adherence_pct": p["adherence"]["adherence_pct"],
                "valid_days": p["adherence"]["valid_days"],
                "days": p["adherence"]["days"],
                "last_sample_h": _round(hours_since(p.get("latest_sample"), now)),
                "last_sync_h": _round(hours_since(p.get("last_sync"), now)),
                "source_status": p["source_status"],
                "sleep_nights": sleep["nights_recorded"],
                "sleep_text": f"{sleep['nights_recorded']} of {sleep['nights_considered']}",
                "flags": " ".join(flags),
                "flag_count": len(flags),
                "flag_notes": "; ".join(
                    d.get("message", k) for k, d in (p.get("flag_details") or {}).items()
                ),
                "last_contacted_h": _round(contacted),
                "in_cooldown": contacted is not None and contacted < cooldown_hours,
                "contact": "Email",
            }
        )
    return rows


def _round(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 2)


def cohort_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Enrolled (active), flagged (at least one flag), syncing today (a sync or, without a source, a sample
    in the last 24 h)."""

    def synced(r: dict[str, Any]) -> bool:
        h = r["last_sync_h"] if r["source_status"] not in ("manual", "none") else r["last_sample_h"]
        return h is not None and h <= 24

    return {
        "enrolled": sum(1 for r in rows if r["status"] == "active"),
        "flagged": sum(1 for r in rows if r["flag_count"]),
        "syncing_today": sum(1 for r in rows if synced(r)),
        "participants": len(rows),
    }
