"""The dashboard's door: the sign-in and sign-out routes, and a guard in front of every other request.

- Nothing but /login and /healthz is served without a signed-in person: a page is redirected to the
  sign-in page, anything else (Dash's layout, callbacks, scripts, assets) answers 401 with the header
  X-Fitpipe-Sign-In naming where to go (assets/session.js sends the browser there).
- The person's API session token lives only in the encrypted, HttpOnly session cookie (cookies.py); every
  API call of the request is made with it (client.py), so the API's own per-study, per-role checks and
  audit apply to the person.
- CSRF: cookies are SameSite=Strict; every POST must come from this host (Origin, else Referer) and carry
  the token bound to the session (X-CSRFToken, sent by dash-renderer from the `_csrf_token` cookie, or the
  sign-out form's field); the sign-in form has its own double-submit token.
- A page load asks the API who the session is (so a role changed by an admin shows at once, and an ended
  session is noticed before any callback runs).
- In proxy mode (proxy.py) the sign-in page is never shown: the auth proxy signs people in, and the
  dashboard starts an API session for whoever it vouches for.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import replace
from urllib.parse import quote, urlencode, urlsplit

from dash import Dash
from flask import Flask, g, jsonify, make_response, redirect, request
from werkzeug.wrappers import Response  # flask's Response and what flask.redirect is typed to return

from fitpipe.contracts import SessionOut
from fitpipe.settings import Settings
from fitpipe_dashboard.auth.cookies import SIGNIN_CSRF_COOKIE, SessionCookies
from fitpipe_dashboard.auth.page import signin_page
from fitpipe_dashboard.auth.person import NotAllowed, Person
from fitpipe_dashboard.auth.proxy import ProxyTrust
from fitpipe_dashboard.client import ApiClient, ApiError, SessionEnded

__all__ = ["install", "SIGN_IN_HEADER"]

log = logging.getLogger(__name__)

SIGN_IN_HEADER = "X-Fitpipe-Sign-In"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Dash's own routes: not pages (a page is anything else Dash answers with its index)
_DASH_PREFIXES = ("/_dash-", "/_reload-hash", "/_favicon.ico", "/assets/", "/_alive_")
_ENDED = "Your session has ended (signed out, expired, or idle too long). Please sign in again."


def _shown(studies: list[str]) -> tuple[str, ...]:
    """The study names the header shows (the API decides what is visible; the cookie must stay < 4 kB)."""
    if len(studies) <= 8:
        return tuple(studies)
    return (*studies[:8], f"+{len(studies) - 8} more")


def _person_from(answer: SessionOut, csrf: str, identity: str | None = None) -> Person:
    who = answer.person
    assert who.username is not None  # ApiClient.sign_in and proxy_sign_in refuse a session of no person
    return Person(
        token=answer.token,
        username=who.username,
        role=who.role,
        all_studies=who.all_studies,
        studies=_shown(who.studies),
        can_contact=who.can_contact,
        csrf=csrf,
        expires_at=answer.expires_at.timestamp(),
        identity=identity,
    )


def _safe_next(value: str | None) -> str:
    """A path on this site to go to after signing in; anything else (another host, //x, \\x) is /."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _same_origin() -> bool:
    """A POST's Origin (or, without one, its Referer) names this host; without either, the CSRF token
    decides alone."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True
    return urlsplit(source).netloc == request.host


def _page_of_request(path: str) -> str:
    """The page to come back to after signing in: this one, or for Dash's requests the page that made
    them (its Referer, when on this host)."""
    if _is_page(path):
        return request.full_path.rstrip("?")
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.netloc == request.host and referer.path:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def _in_words(exc: ApiError) -> str:
    """The API's refusal as sentences for the sign-in page: 'Wrong user name or password.'"""
    detail = str(exc.body.get("detail") or exc.message)
    text = detail[:1].upper() + detail[1:] + "."
    if exc.hint and exc.status != 401:
        text += " " + exc.hint[:1].upper() + exc.hint[1:] + "."
    return text.replace("`", "")  # the API's hints quote commands in backticks, for terminals


def _is_page(path: str) -> bool:
    return request.method == "GET" and not path.startswith(_DASH_PREFIXES)


def install(app: Dash, settings: Settings, client: ApiClient) -> SessionCookies:
    """Put the guard, the sign-in/out routes, the refusal handlers and the security headers on the
    dashboard's Flask server. Returns the cookie codec (tests make cookies with it)."""
    server: Flask = app.server
    key = settings.fitpipe_dashboard_secret_key
    cookies = SessionCookies(
        key.get_secret_value() if key else None, secure=settings.fitpipe_dashboard_cookie_secure
    )
    proxy = ProxyTrust(settings) if settings.fitpipe_dashboard_auth == "proxy" else None

    def sign_in_url(path: str, *, ended: bool) -> str:
        if proxy is not None:  # the proxy signs people in; coming back starts a new session
            return path
        query = {"next": path} if path != "/" else {}
        if ended:
            query["expired"] = "1"
        return "/login" + (f"?{urlencode(query, quote_via=quote)}" if query else "")

    def refuse_unsigned(path: str, *, ended: bool) -> Response:
        target = sign_in_url(_safe_next(_page_of_request(path)), ended=ended)
        if _is_page(path):
            response = redirect(target, code=302)
        else:
            response = make_response(jsonify(detail="sign in first", sign_in=target), 401)
            response.headers[SIGN_IN_HEADER] = target
        if ended:
            cookies.clear(response)
        return response

    def forbidden(message: str) -> Response:
        return make_response(jsonify(detail=message), 403)

    def start_proxy_session(identity: str) -> Person | Response:
        assert proxy is not None
        try:
            answer = client.proxy_sign_in(identity, proxy.match, proxy.signin_token)
        except ApiError as exc:
            log.warning("no session for %r through the auth proxy: %s", identity, exc.message)
            return forbidden(f"you are signed in as {identity}, but fitpipe refused: {exc.message}")
        return _person_from(answer, secrets.token_urlsafe(32), identity)

    @server.before_request
    def guard() -> Response | None:
        path = request.path
        if path == "/healthz":
            return None
        if proxy is not None and not proxy.vouched(request):
            return forbidden("this dashboard answers only through its sign-in proxy")
        if path in ("/login", "/logout"):
            return None  # they check what they need themselves
        person = cookies.read(request.cookies.get(cookies.name))
        if proxy is not None:
            identity = proxy.identity(request)
            if identity is None:
                return forbidden("the sign-in proxy named nobody (no identity header)")
            if person is None or person.identity != identity:
                started = start_proxy_session(identity)
                if isinstance(started, Response):
                    return started
                person = g.fitpipe_new_cookie = started
        if person is None:
            return refuse_unsigned(path, ended=cookies.name in request.cookies)
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get("X-CSRFToken", "")
            if not _same_origin() or not hmac.compare_digest(sent.encode(), person.csrf.encode()):
                log.warning(
                    "refused a %s to %s without a valid CSRF token (user %s)",
                    request.method,
                    path,
                    person.username,
                )
                return forbidden("the request did not come from this dashboard's own page (CSRF check)")
        g.fitpipe_person = person
        if _is_page(path):
            # the API's view of the session: ended sessions stop here; a changed role shows at once
            try:
                who = client.me()
            except SessionEnded:
                return refuse_unsigned(path, ended=True)
            except ApiError:
                return None  # the page will show the API's error where it matters
            fresh = replace(
                person,
                role=who.role,
                all_studies=who.all_studies,
                studies=_shown(who.studies),
                can_contact=who.can_contact,
            )
            if fresh != person:
                g.fitpipe_person = g.fitpipe_new_cookie = fresh
        return None

    @server.after_request
    def headers(response: Response) -> Response:
        new = g.pop("fitpipe_new_cookie", None)
        if new is not None:
            cookies.write(response, new)
        # health data: never cached, never framed, no sniffing, no referrer to other sites
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @server.errorhandler(SessionEnded)
    def session_ended(exc: SessionEnded) -> Response:
        return refuse_unsigned(request.path, ended=True)

    @server.errorhandler(NotAllowed)
    def not_allowed(exc: NotAllowed) -> Response:
        log.warning("refused %s %s: %s", request.method, request.path, exc.message)
        return forbidden(exc.message)

    def render_signin(
        message: str = "", kind: str = "info", status: int = 200, username: str = ""
    ) -> Response:
        csrf = secrets.token_urlsafe(32)
        html = signin_page(
            csrf=csrf,
            next_path=_safe_next(request.values.get("next")),
            username=username,
            message=message,
            kind=kind,
        )
        response = make_response(html, status)
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        cookies.write_signin_csrf(response, csrf)
        return response

    def login() -> Response:
        if proxy is not None:
            return redirect("/", code=302)
        if request.method == "GET":
            if cookies.read(request.cookies.get(cookies.name)) is not None:
                return redirect(_safe_next(request.args.get("next")), code=302)
            if request.args.get("expired"):
                return render_signin(_ENDED)
            if request.args.get("signed_out"):
                return render_signin("You are signed out.")
            return render_signin()
        form_token = request.form.get("csrf", "")
        cookie_token = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
        if not _same_origin() or not cookie_token or not hmac.compare_digest(form_token, cookie_token):
            return render_signin("The sign-in form had expired; please try again.", "error", 400)
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if not username.strip() or not password:
            return render_signin("Enter your user name and password.", "error", 400, username)
        try:
            answer = client.sign_in(username, password)
        except ApiError as exc:
            if exc.status in (401, 403, 423):
                return render_signin(_in_words(exc), "error", exc.status, username)
            log.error("sign-in failed: %s", exc.message)
            return render_signin(
                f"Signing in is not possible right now: {exc.message}", "error", 503, username
            )
        person = _person_from(answer, secrets.token_urlsafe(32))
        log.info("%s signed in (%s)", person.username, person.role)
        response = redirect(_safe_next(request.form.get("next")), code=303)
        cookies.write(response, person)
        response.delete_cookie(
            SIGNIN_CSRF_COOKIE, path="/login", secure=cookies.secure, httponly=True, samesite="Strict"
        )
        return response

    def logout() -> Response:
        person = cookies.read(request.cookies.get(cookies.name))
        if person is not None:
            if not _same_origin() or not hmac.compare_digest(
                request.form.get("csrf", "").encode(), person.csrf.encode()
            ):
                return forbidden("the sign-out did not come from this dashboard's own page (CSRF check)")
            try:
                client.sign_out(person.token)
            except ApiError as exc:  # the cookie goes anyway; the API session then ends by itself
                log.warning("could not end %s's API session: %s", person.username, exc.message)
            log.info("%s signed out", person.username)
        target = proxy.sign_out_url if proxy is not None else "/login?signed_out=1"
        response = redirect(target, code=303)
        cookies.clear(response)
        return response

    def healthz() -> Response:
        return jsonify(status="ok")

    server.add_url_rule("/login", "fitpipe_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "fitpipe_logout", logout, methods=["POST"])
    server.add_url_rule("/healthz", "fitpipe_healthz", healthz, methods=["GET"])
    return cookies
