"""fitpipe_dashboard.client against the real API: answers decoded with their models (fitpipe.contracts), every
failure as a sentence for the page that names what to do and never the token."""

from __future__ import annotations

import logging

import httpx
import pytest

from fitpipe.contracts import ContactRefused, ParticipantsAnswer, TimeseriesAnswer
from fitpipe_dashboard.client import AnswerMismatch, ApiClient, ApiError, SessionEnded
from tests.api.factories import free_port
from tests.dashboard.conftest import Stack

pytestmark = pytest.mark.db


def test_the_client_reads_participants_with_its_token(stack: Stack) -> None:
    with ApiClient(stack.api_url, stack.token) as client:
        answer = client.participants()
    assert isinstance(answer, ParticipantsAnswer)
    assert sorted(p.user_id for p in answer.participants) == ["P01", "P02", "P03", "P04"]


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
    assert (first.status, second.status) == ("sent", "refused")
    assert isinstance(second, ContactRefused) and second.retry_after is not None
    assert second.hint == "wait until retry_after, or send force=true"
    assert len(stack.inbox.received) == 1


def test_a_real_timeseries_answer_decodes_into_typed_series(stack: Stack) -> None:
    with ApiClient(stack.api_url, stack.token) as client:
        answer = client.timeseries("P01", ["heart_rate"], study="trial", granularity="1h")
    assert isinstance(answer, TimeseriesAnswer)
    [series] = answer.series
    assert series.granularity == "1h" and len(series.t) == len(series.v) == series.points
    assert series.count is not None and series.v_observed is None  # present and absent columns, not probed


def _answering(body: bytes) -> ApiClient:
    """A client whose transport answers `body` to everything: the API of another release, say."""
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )
    return ApiClient("http://api.test", "fp_x", transport=transport)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            b'{"granularity_requested": "auto", "impute": "none", "point_budget": 2000}',
            "series: Field required",
        ),
        (
            b'{"granularity_requested": "auto", "impute": "none", "point_budget": 2000, "series": [{"t": "x"}]}',
            "series.0.user_id: Field required",
        ),
        (b'{"generated_at": "yesterday", "rules": {}, "participants": []}', "generated_at: Input should be"),
    ],
)
def test_an_answer_that_does_not_match_its_model_is_a_clear_error(body: bytes, named: str) -> None:
    with _answering(body) as client, pytest.raises(AnswerMismatch) as err:
        if b"generated_at" in body:
            client.participants()
        else:
            client.timeseries("P01", ["heart_rate"])
    assert isinstance(err.value, ApiError)  # the pages show it like any refusal
    route = "GET /api/v1/participants" if b"generated_at" in body else "GET /api/v1/timeseries"
    assert err.value.message.startswith(f"the answer to {route} does not match ")
    assert named in err.value.message
    assert "same version" in str(err.value)
