"""Adding and finding participants: idempotent adds, conflicts, validation."""

from __future__ import annotations

import psycopg
import pytest

from fitpipe.errors import ConflictError, InputError, NotFoundError
from fitpipe.participants import add_participant, get_participant, list_participants

pytestmark = pytest.mark.db


def test_adding_twice_unchanged_is_not_an_error(db: psycopg.Connection) -> None:
    first, created = add_participant(db, "P1", "s1", timezone="Europe/London", email="a@example.org")
    again, created_again = add_participant(db, "P1", "s1", timezone="Europe/London")
    assert created and not created_again
    assert again == first


def test_adding_with_a_different_timezone_is_a_conflict(db: psycopg.Connection) -> None:
    add_participant(db, "P1", "s1", timezone="Europe/London")
    with pytest.raises(ConflictError, match="timezone"):
        add_participant(db, "P1", "s1", timezone="Asia/Tokyo")


def test_unknown_timezone_is_refused_with_the_field_named(db: psycopg.Connection) -> None:
    with pytest.raises(InputError, match="field timezone.*unknown time zone 'Mars/Olympus'"):
        add_participant(db, "P1", "s1", timezone="Mars/Olympus")


def test_same_id_in_two_studies_needs_the_study(db: psycopg.Connection) -> None:
    add_participant(db, "P1", "a")
    add_participant(db, "P1", "b")
    with pytest.raises(ConflictError, match="several studies"):
        get_participant(db, "P1")
    assert get_participant(db, "P1", "b").study == "b"
    assert [p.study for p in list_participants(db)] == ["a", "b"]


def test_unknown_participant_says_how_to_add_it(db: psycopg.Connection) -> None:
    with pytest.raises(NotFoundError) as err:
        get_participant(db, "nobody", "s1")
    assert "fitpipe participants add nobody" in (err.value.hint or "")


def test_bad_participant_id_is_refused(db: psycopg.Connection) -> None:
    with pytest.raises(InputError, match="not allowed"):
        add_participant(db, "a b;drop", "s1")
