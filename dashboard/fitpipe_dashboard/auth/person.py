"""The signed-in person of the current request (flask.g), and the refusals callbacks raise.

`Person` is what the encrypted session cookie holds: the API session token (never shown to the browser's
scripts), who it is, what they may do, the CSRF token bound to the session, and when it ends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from flask import g, has_request_context
from pydantic import TypeAdapter

from fitpipe.errors import FitpipeError

__all__ = ["Person", "current_person", "require_contact", "NotAllowed"]


@dataclass(frozen=True)
class Person:
    token: str
    username: str
    role: str
    all_studies: bool
    studies: tuple[str, ...]
    """For display only (at most 8 names and "+N more"); the API decides what the person sees."""
    can_contact: bool
    csrf: str
    expires_at: float
    """Unix time the API session ends at the latest."""
    identity: str | None = None
    """proxy mode: the identity the auth proxy asserted when the session began."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> Person:
        """What to_json() wrote; a pydantic ValidationError (a ValueError) when it does not fit, e.g. a
        cookie of an older release."""
        return _COOKIE.validate_python(data)

    @property
    def scope(self) -> str:
        return "all studies" if self.all_studies else "studies: " + ", ".join(self.studies)


_COOKIE = TypeAdapter(Person)


class NotAllowed(FitpipeError):
    """The person's role may not do what the request asks (answered 403, whatever the browser sent)."""


def current_person() -> Person | None:
    if not has_request_context():
        return None
    person = g.get("fitpipe_person")
    return person if isinstance(person, Person) else None


def require_contact() -> Person:
    """The person, if they may email participants; NotAllowed otherwise (a forged callback included)."""
    person = current_person()
    if person is None or not person.can_contact:
        who = f"{person.username} ({person.role})" if person else "nobody signed in"
        raise NotAllowed(f"{who} may not email participants")
    return person
