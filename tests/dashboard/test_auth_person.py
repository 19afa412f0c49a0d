"""The Person of the session cookie (fitpipe_dashboard/auth/person.py): what to_json() writes from_json()
reads back equal; a cookie that does not fit (an older release's) is refused, so it counts as no session."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pydantic import ValidationError

from fitpipe_dashboard.auth.person import Person

PERSON = Person(
    token="t" * 43,
    username="cora",
    role="coordinator",
    all_studies=False,
    studies=("trial", "pilot"),
    can_contact=True,
    csrf="c" * 43,
    expires_at=1_900_000_000.5,
)


def test_a_person_survives_the_cookies_json() -> None:
    assert Person.from_json(json.loads(json.dumps(PERSON.to_json()))) == PERSON
    proxied = replace(PERSON, studies=(), identity="cora@hospital.example")
    assert Person.from_json(json.loads(json.dumps(proxied.to_json()))) == proxied


@pytest.mark.parametrize(
    "changes",
    [{"csrf": None}, {"studies": "trial"}, {"expires_at": "tomorrow"}],
)
def test_a_cookie_that_does_not_fit_the_person_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Person.from_json(PERSON.to_json() | changes)
    old = {k: v for k, v in PERSON.to_json().items() if k != "can_contact"}
    with pytest.raises(ValueError, match="can_contact"):
        Person.from_json(old)
