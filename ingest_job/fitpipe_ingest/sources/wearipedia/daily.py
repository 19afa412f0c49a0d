"""activity.csv (daily steps) and breathing_rate.csv / br.csv (nightly breathing rate per sleep stage)."""

from __future__ import annotations

from fitpipe_ingest.sources.wearipedia.cells import (
    BadRow,
    NotANumber,
    Out,
    Row,
    literal_or_bad,
    parse_date,
    to_float,
)
from fitpipe_ingest.sources.wearipedia.items import entries

__all__ = ["BREATHING", "read_activity", "read_breathing_rate"]


def read_activity(row: Row, out: Out) -> None:
    day = parse_date(row.text("dateTime"), "dateTime")
    raw = row.text("value").strip()
    try:
        value = to_float(raw)
    except NotANumber as exc:
        raise BadRow("value", str(exc), raw, kind="not_a_number") from None
    out.add_daily("steps", day, value, row.line, -1, row.participant)


BREATHING = {
    "fullSleepSummary": "breathing_rate",
    "deepSleepSummary": "breathing_rate_deep",
    "remSleepSummary": "breathing_rate_rem",
    "lightSleepSummary": "breathing_rate_light",
}


def read_breathing_rate(row: Row, out: Out) -> None:
    text = row.text("br")
    for k, entry in enumerate(entries(literal_or_bad(text, "br"), "br", text)):
        day = parse_date(entry.get("dateTime"), "br.dateTime")
        summaries = entry.get("value")
        if not isinstance(summaries, dict):
            out.reject_at(row, k, "br.value", "missing 'value'", str(entry), "missing_field")
            continue
        for key, metric in BREATHING.items():
            stage = summaries.get(key)
            if not isinstance(stage, dict) or "breathingRate" not in stage:
                continue
            try:
                out.add_daily(metric, day, to_float(stage["breathingRate"]), row.line, k, row.participant)
            except NotANumber as exc:
                out.reject_at(
                    row, k, f"br.{key}.breathingRate", str(exc), str(stage["breathingRate"]), "not_a_number"
                )
