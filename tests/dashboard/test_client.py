"""fitpipe_dashboard.client against the real API: answers as JSON, every failure as a sentence for the page that
names what to do and never the token."""

from __future__ import annotations

import logging

import pytest

from fitpipe_dashboard.client import ApiClient, ApiError, SessionEnded
from tests.api.factories import free_port
from tests.dashboard.conftest import Stack

pytestmark = pytest.mark.db


def test_the_client_reads_participants_with_its_token(stack: Stack) -> None:
    with ApiClient(stack.api_url, stack.token) as client:
        answer = client.participants()
    assert sorted(p["user_id"] for p in answer["participants"]) == ["P01", "P02", "P03", "P04"]


def test_a_refused_token_ends_the_session_and_is_never_shown(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "fps_" + stack.token[3:-4] + "abcd"
    with (
        ApiClient(stack.api_url, token_source=lambda: secret) as client,
        caplog.at_level(logging.DEBUG),
        pytest.raises(SessionEnded) as err,
    ):
        client.participants()
    assert str(err.value) == "the session has ended (signed out, expired or idle too long): sign in again"
    assert secret not in str(err.value) and secret not in repr(client) and secret not in caplog.text


def test_a_wrong_password_is_an_api_error_with_the_apis_words(stack: Stack) -> None:
    with ApiClient(stack.api_url) as client, pytest.raises(ApiError) as err:
        client.sign_in("cora", "not her password")
    assert err.value.status == 401
    assert err.value.body == {"detail": "wrong user name or password"}


def test_an_unreachable_api_becomes_a_message_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ApiClient(url, "fp_x", timeout=2) as client, pytest.raises(ApiError) as err:
        client.participants()
    assert url in err.value.message and "fitpipe serve api" in str(err.value)


def test_an_unknown_participant_is_the_apis_own_words(stack: Stack) -> None:
    with ApiClient(stack.api_url, stack.token) as client, pytest.raises(ApiError) as err:
        client.participant("NOPE", study="trial")
    assert err.value.status == 404 and "NOPE" in err.value.message


def test_a_refusal_within_the_cooldown_is_an_answer_not_an_error(stack: Stack) -> None:
    with ApiClient(stack.api_url, stack.token) as client:
        first = client.contact("P02", study="trial")
        second = client.contact("P02", study="trial")
    assert (first["status"], second["status"]) == ("sent", "refused")
    assert len(stack.inbox.received) == 1
