"""The browser's stores as models (fitpipe_dashboard/stores.py): what a callback dumps it loads back equal;
an absent store is None; a stale one (a field renamed, a wrong type, not an object) is refused with the
store, the model and the field named, and inside a real callback it is treated as absent while the page
says to reload, never a traceback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from fitpipe.contracts import ParticipantsAnswer
from fitpipe.settings import Settings
from fitpipe_dashboard import stores
from fitpipe_dashboard.app import create_app
from fitpipe_dashboard.stores import NOTICE, StaleStore, decode_store, dump
from tests.dashboard.answers import participant_json, participants_answer, participants_json
from tests.dashboard.browser import callback_body
from tests.dashboard.conftest import COORDINATOR, Stack
from tests.dashboard.test_auth_views import csrf_cookie, sign_in


def test_a_dumped_store_is_json_and_loads_back_as_the_same_model() -> None:
    answer = participants_answer(participant_json("P01"), participant_json("P02", email="p02@example.org"))
    stored: dict[str, Any] = dump(answer)
    assert json.loads(json.dumps(stored)) == stored  # what the browser keeps
    assert stored["generated_at"] == "2024-01-10T12:00:00Z"
    assert "email" not in stored["participants"][0]  # unset optional fields stay out, as the API sent them
    assert decode_store(ParticipantsAnswer, stored, "cohort-data") == answer


def test_an_absent_store_is_none() -> None:
    assert decode_store(ParticipantsAnswer, None, "cohort-data") is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**participants_json(participant_json()), "generated_at": "yesterday"}, "generated_at"),
        (participants_json({k: v for k, v in participant_json().items() if k != "adherence"}), "adherence"),
        (participants_json(participant_json(last_sync="soon")), "last_sync"),
        ([1, 2, 3], "(the store)"),
        ({}, "generated_at"),
    ],
)
def test_a_stale_store_is_refused_naming_the_store_the_model_and_the_field(data: object, field: str) -> None:
    with pytest.raises(StaleStore) as caught:
        decode_store(ParticipantsAnswer, data, "cohort-data")
    message = caught.value.message
    assert message.startswith("the page's cohort-data store does not fit ParticipantsAnswer (")
    assert field in message and "upgraded while the page was open" in message
    assert caught.value.hint == "reload the page"


def test_the_same_store_is_decoded_once_and_other_content_is_not_mistaken_for_it() -> None:
    answer = participants_answer(participant_json("P01"), participant_json("P02"))
    stored = dump(answer)

    def browser_copy() -> object:  # what a later callback request brings back
        return json.loads(json.dumps(stored))

    # what the callback wrote comes back as the model itself, not validated again
    assert decode_store(ParticipantsAnswer, browser_copy(), "cohort-data") is answer
    stores._decoded.clear()  # another process: the first decode validates, the next ones reuse it
    first = decode_store(ParticipantsAnswer, browser_copy(), "cohort-data")
    assert first == answer and first is not answer
    assert decode_store(ParticipantsAnswer, browser_copy(), "cohort-data") is first

    other = dump(participants_answer(participant_json("P01"), participant_json("P03")))
    decoded = decode_store(ParticipantsAnswer, other, "cohort-data")
    assert decoded is not first and decoded is not None
    assert [p.user_id for p in decoded.participants] == ["P01", "P03"]

    stale = {**stored, "generated_at": "yesterday"}
    for _ in range(2):  # a stale store is refused every time, never remembered
        with pytest.raises(StaleStore):
            decode_store(ParticipantsAnswer, stale, "cohort-data")


def test_only_a_few_decoded_stores_are_kept() -> None:
    answers = [dump(participants_answer(participant_json(f"Q{i:02d}"))) for i in range(40)]
    for a in answers:
        decode_store(ParticipantsAnswer, a, "cohort-data")
    assert len(stores._decoded) <= 16
    oldest = decode_store(ParticipantsAnswer, answers[0], "cohort-data")
    newest = decode_store(ParticipantsAnswer, answers[-1], "cohort-data")
    assert oldest is not None and [p.user_id for p in oldest.participants] == ["Q00"]
    assert newest is decode_store(ParticipantsAnswer, answers[-1], "cohort-data")


def test_many_users_at_once_each_get_the_store_they_sent() -> None:
    answers = [dump(participants_answer(participant_json(f"T{i:02d}"))) for i in range(24)]
    stores._decoded.clear()
    errors: list[str] = []

    def user(i: int) -> None:
        for _ in range(50):
            decoded = decode_store(ParticipantsAnswer, json.loads(json.dumps(answers[i])), "cohort-data")
            if decoded is None or [p.user_id for p in decoded.participants] != [f"T{i:02d}"]:
                errors.append(f"user {i} got {decoded}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(answers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stores._decoded) <= 16  # 24 contents at once, the bound still holds


# --- inside a real callback -------------------------------------------------------------------------------


@pytest.fixture
def signed_in(stack: Stack) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    """(the dashboard app, a Flask client with the coordinator signed in, the CSRF header)."""
    app = create_app(
        stack.api_url,
        Settings(_env_file=None, fitpipe_dashboard_secret_key=SecretStr(Fernet.generate_key().decode())),
    )
    client = app.server.test_client()
    sign_in(client, COORDINATOR)
    yield app, client, {"X-CSRFToken": csrf_cookie(client)}
    app.server.config["FITPIPE_API_CLIENT"].close()


def _fill(signed_in: tuple[Any, Any, dict[str, str]], store: object) -> dict[str, Any]:
    app, client, headers = signed_in
    body = callback_body(
        app,
        "cohort-grid.rowData",
        {
            "cohort-data.data": store,
            "study.value": "trial",
            "th-adherence.value": 70,
            "th-upload.value": 48,
            "th-sleep.value": 5,
        },
    )
    answered = client.post("/_dash-update-component", json=body, headers=headers)
    assert answered.status_code == 200, answered.text[:500]
    return dict(answered.get_json())


@pytest.mark.db
def test_inside_a_callback_a_stale_store_is_treated_as_absent_and_the_page_says_to_reload(
    signed_in: tuple[Any, Any, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    valid = _fill(signed_in, dump(participants_answer(participant_json("P01"), participant_json("P02"))))
    assert [r["user_id"] for r in valid["response"]["cohort-grid"]["rowData"]] == ["P01", "P02"]
    assert "sideUpdate" not in valid
    absent = _fill(signed_in, None)
    assert absent["response"]["cohort-grid"]["rowData"] == [] and "sideUpdate" not in absent

    stale = participants_json(participant_json("P01"))
    stale["participants"][0]["adherence_percent"] = stale["participants"][0].pop("adherence")
    with caplog.at_level(logging.WARNING, logger="fitpipe_dashboard.stores"):
        answered = _fill(signed_in, stale)
    assert answered["response"]["cohort-grid"]["rowData"] == []  # as if the store were absent
    assert answered["response"]["count-flagged"]["children"] == "–"
    notice = json.dumps(answered["sideUpdate"][NOTICE]["children"])
    assert "the page's cohort-data store does not fit ParticipantsAnswer" in notice
    assert "participants.0.adherence" in notice and "Please reload the page." in notice
    assert "participants.0.adherence" in caplog.text
