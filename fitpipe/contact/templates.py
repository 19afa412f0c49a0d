"""The emails fitpipe sends participants: one plain-text template per reason (low_wear, no_upload, low_sleep,
no_source), naming the study, the participant id, what is wrong in words and what to do about it.

A message may carry several reasons (one email, one numbered item each). Figures come from the flag's
detail when there is one (e.g. the adherence percentage); without them the wording stays general.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fitpipe.errors import InputError

__all__ = ["Message", "REASONS", "render", "check_reasons"]


@dataclass(frozen=True)
class Reason:
    headline: str
    """Short, for the subject line."""
    words: Callable[[Mapping[str, Any]], str]
    """What is wrong, from the flag's detail (which may be empty)."""
    todo: str
    """What the participant can do."""


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str
    reasons: tuple[str, ...]


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%d %B %Y")
    return str(value)


def _low_wear(d: Mapping[str, Any]) -> str:
    if "adherence_pct" in d:
        return (
            f"Your Fitbit recorded your heart rate for {d['adherence_pct']:.0f}% of the time since you joined; "
            f"the study needs at least {d.get('min_adherence_pct', 70):.0f}%."
        )
    return "Your Fitbit has recorded your heart rate for less of the time than the study needs."


def _no_upload(d: Mapping[str, Any]) -> str:
    hours = d.get("hours", 48)
    latest = d.get("latest_sample")
    since = f" since {_when(latest)}" if latest else ""
    return f"We have received no new data from your Fitbit{since} (more than {hours:g} hours)."


def _low_sleep(d: Mapping[str, Any]) -> str:
    if "nights_recorded" in d:
        return (
            f"Your Fitbit recorded your sleep on {d['nights_recorded']} of the last {d['nights_considered']} nights; "
            f"the study needs at least {d.get('nights_wanted', 5)} of every {d.get('window_nights', 7)}."
        )
    return "Your Fitbit has recorded your sleep on fewer nights than the study needs."


def _no_source(d: Mapping[str, Any]) -> str:
    if any(s.get("status") == "needs_reconsent" for s in d.get("sources", [])):
        return "The study's permission to read your Fitbit data has expired or was withdrawn."
    return "Your Fitbit account is not connected to the study yet, so we receive none of your data."


REASONS: dict[str, Reason] = {  # in the order of fitpipe.adherence_rules.FLAGS
    "no_source": Reason(
        "please connect your Fitbit account",
        _no_source,
        "Follow the link in your enrolment email to connect (or reconnect) your Fitbit account to the "
        "study, or reply to this email and the study team will help you.",
    ),
    "no_upload": Reason(
        "please sync your Fitbit",
        _no_upload,
        "Open the Fitbit app on your phone and let it sync. Check that Bluetooth is on, that the "
        "Fitbit is charged, and that the app is allowed to run in the background.",
    ),
    "low_sleep": Reason(
        "please wear your Fitbit at night",
        _low_sleep,
        "Keep the Fitbit on when you go to bed and sync it in the morning. Charge it during the day "
        "rather than overnight.",
    ),
    "low_wear": Reason(
        "please wear your Fitbit more",
        _low_wear,
        "Wear the Fitbit day and night, snug on your wrist, and take it off only to charge it "
        "(a good moment is while you shower).",
    ),
}


def check_reasons(reasons: Sequence[str]) -> list[str]:
    """The reasons, de-duplicated in the canonical order; unknown ones are an InputError."""
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        raise InputError(
            f"unknown contact reason {', '.join(map(repr, unknown))}",
            field="reason",
            hint="use one of: " + ", ".join(REASONS),
        )
    return [r for r in REASONS if r in reasons]


def render(
    to: str,
    study: str,
    user_id: str,
    reasons: Sequence[str],
    details: Mapping[str, Mapping[str, Any]] | None = None,
) -> Message:
    """The email for one participant naming every reason given (at least one)."""
    ordered = check_reasons(reasons)
    if not ordered:
        raise InputError(
            "a message needs at least one reason", field="reason", hint="use one of: " + ", ".join(REASONS)
        )
    details = details or {}
    if len(ordered) == 1:
        subject = f"Study {study}: {REASONS[ordered[0]].headline}"
    else:
        subject = f"Study {study}: {len(ordered)} things about your Fitbit"
    items = []
    for i, name in enumerate(ordered, 1):
        reason = REASONS[name]
        items.append(f"{i}. {reason.words(details.get(name, {}))}\n   What to do: {reason.todo}")
    body = (
        "Hello,\n\n"
        f"This is a message from the study {study} about participant {user_id}.\n\n"
        + "\n\n".join(items)
        + "\n\nIf something is not working or you have questions, reply to this email and the study team "
        "will get back to you.\n\n"
        f"Thank you for taking part,\nThe {study} study team\n"
    )
    return Message(to=to, subject=subject, body=body, reasons=tuple(ordered))
