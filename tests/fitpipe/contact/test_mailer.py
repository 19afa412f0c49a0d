"""The SMTP mailer without the API: a silent server times out, settings that contradict each other are refused,
error texts lose addresses and secrets."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from fitpipe.contact.mailer import DeliveryError, Mailer, scrub
from fitpipe.contact.templates import render
from fitpipe.errors import ConfigError
from fitpipe.settings import Settings
from tests.api.factories import smtp_server


def _settings(**kwargs: Any) -> Settings:
    return Settings(_env_file=None, mail_server="127.0.0.1", **kwargs)


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection in the kernel, never greets
        mailer = Mailer(_settings(mail_port=silent.getsockname()[1]), timeout=0.3)
        started = time.perf_counter()
        with pytest.raises(DeliveryError, match="within 0.3 s|timed out"), mailer.session():
            pass
    assert time.perf_counter() - started < 3


def test_a_session_sends_several_messages_over_one_connection() -> None:
    with (
        smtp_server() as (port, inbox),
        Mailer(_settings(mail_port=port, mail_from="team@example.org")).session() as session,
    ):
        for user in ("P1", "P2"):
            session.send(render(f"{user.lower()}@example.org", "s", user, ["no_upload"]))
    assert [rcpt for rcpt, _ in inbox.received] == [["p1@example.org"], ["p2@example.org"]]
    assert all(m["From"] == "team@example.org" and m["Message-ID"] for _, m in inbox.received)


def test_starttls_and_implicit_tls_together_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="MAIL_STARTTLS and MAIL_SSL_TLS"):
        Mailer(_settings(mail_starttls=True, mail_ssl_tls=True))


def test_scrub_removes_addresses_and_secrets() -> None:
    text = "550 5.1.1 <jane.doe+x@example.org>: unknown; login mailer/hunter2 refused"
    assert scrub(text, "hunter2", "mailer") == "550 5.1.1 <<address>>: unknown; login ***/*** refused"
