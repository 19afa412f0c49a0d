"""The dashboard's door without a browser: its Flask app (test client) in front of the real API. Nothing
is served to a stranger, the session cookie cannot be forged or read, every POST needs this host's origin
and the session's CSRF token, `next` never leaves the site, and in proxy mode only the auth proxy (with
the shared secret) can say who is asking."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from pydantic import SecretStr

from fitpipe.settings import Settings
from fitpipe.tokens import create_token
from fitpipe.users import add_user, disable_user
from fitpipe_dashboard.app import create_app
from tests.api.conftest import TEST_PASSWORDS
from tests.dashboard.browser import callback_body
from tests.dashboard.conftest import ANALYST, COORDINATOR, PASSWORD, Stack

pytestmark = pytest.mark.db

SESSION = "__Host-fitpipe_session"
PROXY_SECRET = "proxy-shared-secret-for-tests"


def dashboard(stack: Stack, **settings: Any) -> Any:
    return create_app(stack.api_url, Settings(_env_file=None, **settings))


@pytest.fixture
def app(stack: Stack) -> Iterator[Any]:
    application = dashboard(stack, fitpipe_dashboard_secret_key=SecretStr(Fernet.generate_key().decode()))
    yield application
    application.server.config["FITPIPE_API_CLIENT"].close()


def form_csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, next_path: str = "/") -> Any:
    csrf = form_csrf(client.get("/login").text)
    return client.post(
        "/login", data={"csrf": csrf, "username": username, "password": password, "next": next_path}
    )


def csrf_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None
    return cookie.value


def test_a_stranger_gets_only_the_sign_in_page(app: Any) -> None:
    client = app.server.test_client()
    page = client.get("/participant/trial/P01?x=1")
    assert (page.status_code, page.headers["Location"]) == (
        302,
        "/login?next=%2Fparticipant%2Ftrial%2FP01%3Fx%3D1",
    )
    for path in ("/_dash-layout", "/_dash-dependencies", "/assets/style.css", "/_favicon.ico"):
        answer = client.get(path)
        assert (answer.status_code, answer.headers["X-Fitpipe-Sign-In"]) == (401, "/login"), path
    assert client.post("/_dash-update-component", json={}).status_code == 401
    login = client.get("/login")
    assert login.status_code == 200 and "Sign in to the trial dashboard" in login.text
    assert client.get("/healthz").json == {"status": "ok"}


def test_signing_in_sets_hardened_cookies_and_security_headers(
    app: Any, db: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = app.server.test_client()
    answer = sign_in(client, COORDINATOR, next_path="/pipeline")
    assert (answer.status_code, answer.headers["Location"]) == (303, "/pipeline")
    cookies = {c.split("=", 1)[0]: c for c in answer.headers.getlist("Set-Cookie")}
    session = cookies[SESSION]
    for attribute in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43"):
        assert attribute in session, session
    assert "Domain" not in session
    assert "HttpOnly" not in cookies["_csrf_token"] and "SameSite=Strict" in cookies["_csrf_token"]
    page = client.get("/pipeline")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "cora signed in (coordinator)" in caplog.text
    assert PASSWORD not in caplog.text and "fps_" not in caplog.text  # neither password nor session token


@pytest.mark.parametrize(
    "next_path", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/logout", "javascript:x"]
)
def test_next_never_leaves_the_site(app: Any, next_path: str) -> None:
    answer = sign_in(app.server.test_client(), COORDINATOR, next_path=next_path)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/")


def test_the_sign_in_form_needs_its_own_token_and_this_origin(app: Any) -> None:
    client = app.server.test_client()
    csrf = form_csrf(client.get("/login").text)
    data = {"username": COORDINATOR, "password": PASSWORD}
    assert client.post("/login", data={**data, "csrf": "forged"}).status_code == 400
    assert client.post("/login", data=data).status_code == 400
    other = client.post("/login", data={**data, "csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert other.status_code == 400 and "The sign-in form had expired" in other.text
    assert client.get_cookie(SESSION) is None
    # every rendering of the form brings a new token: the first one is stale now
    assert client.post("/login", data={**data, "csrf": csrf}).status_code == 400
    fresh = form_csrf(client.get("/login").text)
    assert client.post("/login", data={**data, "csrf": fresh}).status_code == 303


def test_a_callback_needs_the_sessions_csrf_token_and_this_origin(app: Any) -> None:
    client = app.server.test_client()
    sign_in(client, COORDINATOR)
    body = callback_body(app, "cohort-data.data", {"refresh.data": 0})
    assert client.post("/_dash-update-component", json=body).status_code == 403
    forged = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "x" * 43})
    assert forged.status_code == 403
    token = {"X-CSRFToken": csrf_cookie(client)}
    cross = client.post(
        "/_dash-update-component", json=body, headers={**token, "Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    ok = client.post("/_dash-update-component", json=body, headers={**token, "Origin": "http://localhost"})
    assert ok.status_code == 200
    assert "P01" in ok.text


def test_sign_out_needs_the_csrf_token_and_ends_the_api_session(app: Any, db: psycopg.Connection) -> None:
    client = app.server.test_client()
    sign_in(client, COORDINATOR)
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert db.execute("SELECT count(*) FROM user_sessions WHERE ended_at IS NULL").fetchone() == (1,)
    out = client.post("/logout", data={"csrf": csrf_cookie(client)})
    assert (out.status_code, out.headers["Location"]) == (303, "/login?signed_out=1")
    assert db.execute("SELECT end_reason FROM user_sessions").fetchall() == [("signed_out",)]
    assert client.get("/").status_code == 302


def test_a_forged_or_foreign_session_cookie_is_no_session(app: Any, stack: Stack) -> None:
    signed = app.server.test_client()
    sign_in(signed, COORDINATOR)
    real = signed.get_cookie(SESSION)
    assert real is not None
    tampered = real.value[:-6] + ("AAAAAA" if not real.value.endswith("AAAAAA") else "BBBBBB")
    other_key = dashboard(stack, fitpipe_dashboard_secret_key=SecretStr(Fernet.generate_key().decode()))
    for jar_value, target in ((tampered, app), (real.value, other_key)):
        client = target.server.test_client()
        client.set_cookie(SESSION, jar_value)
        assert client.get("/").headers["Location"] == "/login?expired=1"


def test_a_session_ended_at_the_api_ends_the_page_and_a_role_change_shows_at_once(
    app: Any, db: psycopg.Connection
) -> None:
    client = app.server.test_client()
    sign_in(client, COORDINATOR)
    assert client.get("/").status_code == 200
    db.execute("UPDATE users SET role = 'analyst' WHERE username = %s", (COORDINATOR,))
    client.get("/")  # the page load asks the API and re-issues the cookie with the new role
    layout = client.get("/_dash-layout").text
    assert '"email-flagged"' not in layout and '"contact-dialog"' not in layout
    disable_user(db, COORDINATOR)
    body = callback_body(app, "cohort-data.data", {"refresh.data": 0})
    ended = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf_cookie(client)})
    assert (ended.status_code, ended.headers["X-Fitpipe-Sign-In"]) == (401, "/login?expired=1")
    assert client.get_cookie(SESSION) is None


def test_the_analysts_layout_has_no_contact_controls(app: Any) -> None:
    analyst, coordinator = app.server.test_client(), app.server.test_client()
    sign_in(analyst, ANALYST)
    sign_in(coordinator, COORDINATOR)
    for client, shown in ((analyst, False), (coordinator, True)):
        layout = client.get("/_dash-layout").text
        for control in ('"email-flagged"', '"participant-email"', '"contact-dialog"', '"field":"contact"'):
            assert (control in layout) is shown, control


# --- proxy mode ------------------------------------------------------------------------------------------


@pytest.fixture
def proxied(stack: Stack, db: psycopg.Connection) -> Iterator[Any]:
    """The dashboard in proxy mode with a signin token; cora has an email, pat signs in only via the proxy."""
    db.execute("UPDATE users SET email = 'cora@hospital.example' WHERE username = %s", (COORDINATOR,))
    add_user(
        db,
        username="pat",
        role="coordinator",
        studies=["trial"],
        email="pat@hospital.example",
        with_password=False,
        policy=TEST_PASSWORDS,
    )
    _, signin = create_token(db, name="dashboard proxy", role="signin", studies=[])
    application = dashboard(
        stack,
        fitpipe_dashboard_auth="proxy",
        fitpipe_dashboard_proxy_secret=SecretStr(PROXY_SECRET),
        fitpipe_api_token=SecretStr(signin),
    )
    yield application
    application.server.config["FITPIPE_API_CLIENT"].close()


def through_proxy(email: str | None) -> dict[str, str]:
    headers = {"X-Fitpipe-Proxy-Secret": PROXY_SECRET}
    if email is not None:
        headers["X-Forwarded-Email"] = email
    return headers


def test_proxy_mode_refuses_whatever_did_not_come_through_the_proxy(proxied: Any) -> None:
    client = proxied.server.test_client()
    assert client.get("/", headers={"X-Forwarded-Email": "pat@hospital.example"}).status_code == 403
    wrong = {"X-Fitpipe-Proxy-Secret": "guess", "X-Forwarded-Email": "pat@hospital.example"}
    assert client.get("/", headers=wrong).status_code == 403
    assert client.get("/", headers=through_proxy(None)).status_code == 403  # nobody named
    assert client.get("/_dash-layout", headers=through_proxy(None)).status_code == 403
    assert client.get("/healthz").status_code == 200


def test_proxy_mode_starts_a_session_for_the_person_the_proxy_names(
    proxied: Any, db: psycopg.Connection, stack: Stack
) -> None:
    client = proxied.server.test_client()
    page = client.get("/", headers=through_proxy("Pat@Hospital.example"))
    assert page.status_code == 200
    assert client.get("/login", headers=through_proxy("pat@hospital.example")).headers["Location"] == "/"
    layout = client.get("/_dash-layout", headers=through_proxy("pat@hospital.example")).text
    assert '"signed-in-user"' in layout and '"pat"' in layout
    body = callback_body(proxied, "cohort-data.data", {"refresh.data": 0})
    headers = {**through_proxy("pat@hospital.example"), "X-CSRFToken": csrf_cookie(client)}
    assert client.post("/_dash-update-component", json=body, headers=headers).status_code == 200
    rows = db.execute(
        """SELECT u.username, a.action, a.detail->>'via' FROM audit_log a JOIN users u ON u.id = a.user_id
           ORDER BY a.id"""
    ).fetchall()
    assert rows[0] == ("pat", "sign_in", "proxy")
    assert ("pat", "read_participants", None) in rows
    assert db.execute("SELECT count(*) FROM user_sessions").fetchone() == (1,)  # one session, reused

    # another person behind the same browser (the proxy's cookie changed): a session of their own
    client.get("/", headers=through_proxy("cora@hospital.example"))
    assert db.execute(
        "SELECT u.username FROM user_sessions s JOIN users u ON u.id = s.user_id ORDER BY s.id"
    ).fetchall() == [("pat",), ("cora",)]
    out = client.post(
        "/logout", data={"csrf": csrf_cookie(client)}, headers=through_proxy("cora@hospital.example")
    )
    assert (out.status_code, out.headers["Location"]) == (303, "/oauth2/sign_out")


def test_proxy_mode_refuses_someone_without_a_fitpipe_account(proxied: Any, db: psycopg.Connection) -> None:
    client = proxied.server.test_client()
    answer = client.get("/", headers=through_proxy("eve@hospital.example"))
    assert answer.status_code == 403
    assert "you are signed in as eve@hospital.example, but fitpipe refused" in answer.json["detail"]
    assert db.execute("SELECT count(*) FROM user_sessions").fetchone() == (0,)
    disable_user(db, "pat")
    assert client.get("/", headers=through_proxy("pat@hospital.example")).status_code == 403


def test_proxy_mode_without_its_secret_or_token_does_not_start(stack: Stack) -> None:
    from fitpipe.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        dashboard(stack, fitpipe_dashboard_auth="proxy")
    assert err.value.message == (
        "FITPIPE_DASHBOARD_AUTH=proxy needs FITPIPE_DASHBOARD_PROXY_SECRET and FITPIPE_API_TOKEN"
    )


def test_the_cookie_holds_at_most_eight_study_names_for_display() -> None:
    from fitpipe_dashboard.auth.views import _shown

    assert _shown(["a", "b"]) == ("a", "b")
    many = [f"study-{i:02d}" for i in range(12)]
    assert _shown(many) == (*many[:8], "+4 more")
