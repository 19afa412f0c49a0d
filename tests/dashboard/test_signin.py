"""Signing in to the dashboard in a real headless Chromium against the real API and database: sign-in takes
the person where they asked to go and acts as them (audited under them), sign-out ends the session, an
expired or idle session sends the browser back to the sign-in page, wrong passwords are refused and lock
the account, and an analyst has no Email control and cannot email by calling the callback directly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from fitpipe.users import enable_user
from tests.dashboard.browser import (
    callback_body,
    dashboard_in_browser,
    grid_users,
    post_from_page,
    screenshot,
    sign_in,
)
from tests.dashboard.conftest import (
    ANALYST,
    BROWSER_FLAGS,
    CHROMIUM,
    COORDINATOR,
    PASSWORD,
    SCREENSHOTS,
    Stack,
    needs_browser,
)
from tests.dashboard.test_browser import wait_until

pytestmark = [pytest.mark.db, pytest.mark.browser, needs_browser]

ENDED = "Your session has ended (signed out, expired, or idle too long). Please sign in again."


@pytest.fixture
def dashboard(stack: Stack) -> Iterator[Any]:
    """The dashboard in Chromium, nobody signed in yet."""
    assert CHROMIUM is not None
    with dashboard_in_browser(stack.api_url, CHROMIUM, BROWSER_FLAGS) as br:
        yield br


def console_errors(browser: Any, *, expected: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """SEVERE console entries, leaving out the `expected` statuses (the 401 an ended session is answered,
    the 401/423 a refused sign-in page comes with: Chromium logs each as a failed resource)."""
    return [
        e
        for e in browser.get_logs()
        if e.get("level") == "SEVERE"
        and not any(f"status of {status}" in e.get("message", "") for status in expected)
    ]


def where(browser: Any) -> tuple[str, dict[str, list[str]]]:
    url = urlsplit(browser.driver.current_url)
    return url.path, parse_qs(url.query)


def message(browser: Any) -> str:
    return str(browser.find_element("#signin-message").text)


def audit(db: psycopg.Connection, user_id: int) -> list[str]:
    return [
        r[0] for r in db.execute("SELECT action FROM audit_log WHERE user_id = %s ORDER BY id", (user_id,))
    ]


def open_cohort(browser: Any) -> None:
    wait_until(lambda: len(grid_users(browser)) == 4, "the four participants in the grid")


def test_sign_in_goes_where_asked_acts_as_the_person_and_sign_out_ends_the_session(
    stack: Stack, dashboard: Any, db: psycopg.Connection
) -> None:
    br = dashboard
    br.driver.get(br.server_url + "/participant/trial/P01")
    wait_until(lambda: where(br)[0] == "/login", "the sign-in page")
    assert where(br)[1] == {"next": ["/participant/trial/P01"]}
    assert br.find_element("h1").text == "Sign in to the trial dashboard"
    assert br.driver.find_elements_by_css_selector("#signin-message") == []
    screenshot(br, SCREENSHOTS / "signin.png")

    sign_in(br, COORDINATOR, PASSWORD)
    wait_until(lambda: br.find_element("#participant-title").text == "P01 · study trial", "P01's page")
    assert br.find_element("#signed-in-user").text == "cora"
    assert br.find_element("#signed-in-role").text == "coordinator · studies: trial"
    cookies = {c["name"]: c for c in br.driver.get_cookies()}
    assert set(cookies) == {"__Host-fitpipe_session", "_csrf_token"}
    session = cookies["__Host-fitpipe_session"]
    assert (session["httpOnly"], session["secure"], session["sameSite"], session["path"]) == (
        True,
        True,
        "Strict",
        "/",
    )
    assert 11.9 * 3600 < session["expiry"] - time.time() <= 12 * 3600  # the API session's lifetime
    assert "fps_" not in session["value"]  # the API token is encrypted, not readable in the browser
    assert (cookies["_csrf_token"]["httpOnly"], cookies["_csrf_token"]["sameSite"]) == (False, "Strict")
    wait_until(lambda: "read_participant" in audit(db, stack.users[COORDINATOR]), "P01's read, audited")
    assert audit(db, stack.users[COORDINATOR])[0] == "sign_in"
    assert db.execute(
        "SELECT count(*) FROM audit_log WHERE user_id IS NULL AND token_id IS NULL"
    ).fetchone() == (0,)

    br.find_element("#sign-out").click()
    wait_until(lambda: where(br) == ("/login", {"signed_out": ["1"]}), "the sign-in page after sign-out")
    assert message(br) == "You are signed out."
    assert "__Host-fitpipe_session" not in {c["name"] for c in br.driver.get_cookies()}
    assert db.execute("SELECT end_reason FROM user_sessions").fetchall() == [("signed_out",)]
    assert audit(db, stack.users[COORDINATOR])[-1] == "sign_out"
    br.driver.get(br.server_url + "/")
    wait_until(lambda: where(br)[0] == "/login", "the sign-in page again")
    assert console_errors(br) == []


def test_an_expired_or_idle_session_sends_the_browser_back_to_sign_in(
    stack: Stack, dashboard: Any, db: psycopg.Connection
) -> None:
    br = dashboard
    br.driver.get(br.server_url + "/login")
    sign_in(br, COORDINATOR, PASSWORD)
    open_cohort(br)

    # past its lifetime while the page is open: the next callback is refused, the page goes to sign-in
    db.execute("UPDATE user_sessions SET expires_at = now() - interval '1 second'")
    br.find_element("#nav-pipeline").click()
    wait_until(lambda: where(br)[0] == "/login", "the sign-in page after the session expired")
    assert where(br)[1] == {"next": ["/pipeline"], "expired": ["1"]}
    assert message(br) == ENDED
    sign_in(br, COORDINATOR, PASSWORD)
    wait_until(lambda: br.find_element("#runs").text, "the pipeline page, where the person was going")
    assert where(br) == ("/pipeline", {})

    # idle too long, then a page load: refused before any callback runs
    db.execute("UPDATE user_sessions SET last_seen_at = now() - interval '31 minutes' WHERE ended_at IS NULL")
    br.driver.get(br.server_url + "/participant/trial/P02")
    wait_until(lambda: where(br)[0] == "/login", "the sign-in page after idling")
    assert where(br)[1] == {"next": ["/participant/trial/P02"], "expired": ["1"]}
    assert message(br) == ENDED
    assert console_errors(br, expected=(401,)) == []


def test_a_wrong_password_is_refused_and_five_lock_the_account(
    stack: Stack, dashboard: Any, db: psycopg.Connection
) -> None:
    br = dashboard
    br.driver.get(br.server_url + "/login")
    sign_in(br, COORDINATOR, "not my password")
    wait_until(lambda: message(br) == "Wrong user name or password.", "the refusal")
    assert br.find_element("#username").get_attribute("value") == COORDINATOR  # kept for the next try
    assert br.find_element("#password").get_attribute("value") == ""
    sign_in(br, "nobody-here", "not my password")
    wait_until(
        lambda: br.find_element("#username").get_attribute("value") == "nobody-here", "the second refusal"
    )
    assert message(br) == "Wrong user name or password."  # no telling unknown names from wrong passwords
    for attempt in range(2, 6):
        sign_in(br, COORDINATOR, f"wrong guess {attempt}")
        wait_until(
            lambda: "wrong guess" not in br.find_element("#password").get_attribute("value"), "a refusal"
        )
    locked = message(br)
    assert locked.startswith("Too many wrong passwords: the account is locked until ")
    assert locked.endswith(" UTC. Wait, or ask an admin to unlock it (fitpipe users enable).")
    sign_in(br, COORDINATOR, PASSWORD)  # the right password does not help while locked
    wait_until(lambda: br.find_element("#password").get_attribute("value") == "", "the refusal")
    assert message(br) == locked
    screenshot(br, SCREENSHOTS / "signin-locked.png")
    reasons = db.execute(
        "SELECT detail->>'reason' FROM audit_log WHERE action = 'sign_in_refused' AND user_id = %s ORDER BY id",
        (stack.users[COORDINATOR],),
    ).fetchall()
    assert [r[0] for r in reasons] == ["wrong_password"] * 4 + ["locked", "locked"]

    enable_user(db, COORDINATOR)  # what `fitpipe users enable cora` does
    sign_in(br, COORDINATOR, PASSWORD)
    wait_until(lambda: br.find_element("#signed-in-user").text == "cora", "signed in after the unlock")
    assert console_errors(br, expected=(401, 423)) == []


def _forged_contacts(br: Any) -> list[dict[str, Any]]:
    """The preview (which would show addresses) and the send callbacks, POSTed from the page itself with
    the person's cookies and CSRF token, as if the Email button had been pressed."""
    plan = {"kind": "one", "study": "trial", "user_id": "P02", "opened": "2026-01-01T00:00:00+00:00"}
    app = br.fitpipe_app
    preview = callback_body(
        app, "contact-preview.children", {"contact-plan.data": plan, "contact-force.value": ["force"]}
    )
    send = callback_body(
        app,
        "refresh.data",
        {
            "contact-confirm.n_clicks": 1,
            "contact-plan.data": plan,
            "contact-force.value": ["force"],
            "refresh.data": 0,
        },
    )
    return [post_from_page(br, preview), post_from_page(br, send)]


def test_an_analyst_sees_no_email_button_and_a_forged_email_callback_is_refused(
    stack: Stack, dashboard: Any, db: psycopg.Connection
) -> None:
    br = dashboard
    br.driver.get(br.server_url + "/login")
    sign_in(br, ANALYST, PASSWORD)
    open_cohort(br)
    assert br.find_element("#signed-in-role").text == "analyst · studies: trial"
    assert br.driver.find_elements_by_css_selector("#email-flagged") == []
    assert br.driver.find_elements_by_css_selector('#cohort-grid [col-id="contact"]') == []
    assert br.driver.find_elements_by_css_selector("#contact-dialog") == []
    screenshot(br, SCREENSHOTS / "cohort-analyst.png")
    br.driver.get(br.server_url + "/participant/trial/P02")
    wait_until(lambda: br.find_element("#participant-title").text == "P02 · study trial", "P02's page")
    assert br.driver.find_elements_by_css_selector("#participant-email") == []
    assert "example.org" not in br.find_element("#participant-info").text  # no addresses for analysts
    assert console_errors(br) == []  # a layout without the contact controls breaks no callback

    answers = _forged_contacts(br)
    assert [a["status"] for a in answers] == [403, 403]
    assert all("anna (analyst) may not email participants" in a["text"] for a in answers)
    assert stack.inbox.received == []
    assert db.execute("SELECT count(*) FROM contacts").fetchone() == (0,)
    assert "contact" not in audit(db, stack.users[ANALYST])

    # the same forged requests from a coordinator's page go through: they were well-formed
    br.find_element("#sign-out").click()
    wait_until(lambda: where(br)[0] == "/login", "signed out")
    sign_in(br, COORDINATOR, PASSWORD)
    open_cohort(br)
    answers = _forged_contacts(br)
    assert [a["status"] for a in answers] == [200, 200]
    assert "p02@example.org" in answers[0]["text"]
    assert [rcpt for rcpt, _ in stack.inbox.received] == [["p02@example.org"]]
    assert db.execute("SELECT user_id FROM contacts").fetchall() == [(stack.users[COORDINATOR],)]
    assert console_errors(br, expected=(403,)) == []
