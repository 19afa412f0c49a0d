"""The session cookie: the signed-in Person, encrypted and authenticated with Fernet (AES-128-CBC +
HMAC-SHA256) under the dashboard's key, so the browser holds it but can neither read nor change it.

Cookies are HttpOnly (except the CSRF token Dash's scripts must read), SameSite=Strict, Secure by default,
and live no longer than the API session. With Secure, the session cookie takes the `__Host-` prefix: the
browser then refuses it unless it is Secure, for this host only, on path /.
"""

from __future__ import annotations

import json
import logging
import time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from werkzeug.wrappers import Response  # flask's Response and what flask.redirect is typed to return

from fitpipe.errors import ConfigError
from fitpipe_dashboard.auth.person import Person

__all__ = ["SessionCookies", "CSRF_COOKIE"]

log = logging.getLogger(__name__)

CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads to send X-CSRFToken
SIGNIN_CSRF_COOKIE = "fitpipe_signin_csrf"


class SessionCookies:
    def __init__(self, keys: str | None, *, secure: bool) -> None:
        if keys:
            try:
                self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
            except (ValueError, TypeError):
                raise ConfigError(
                    "FITPIPE_DASHBOARD_SECRET_KEY is not a Fernet key (32 bytes, URL-safe base64)",
                    hint='make one with: python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"',
                ) from None
        else:
            log.warning(
                "FITPIPE_DASHBOARD_SECRET_KEY is not set: a random key is used, so sessions end when the "
                "dashboard restarts and are not shared between replicas"
            )
            self._fernet = MultiFernet([Fernet(Fernet.generate_key())])
        self.secure = secure
        self.name = "__Host-fitpipe_session" if secure else "fitpipe_session"

    def read(self, value: str | None) -> Person | None:
        """The person in a cookie, or None when it is absent, forged, made with another key, or past its end."""
        if not value:
            return None
        try:
            person = Person.from_json(json.loads(self._fernet.decrypt(value.encode())))
        except (InvalidToken, ValueError, TypeError, KeyError):
            return None
        return person if person.expires_at > time.time() else None

    def write(self, response: Response, person: Person) -> None:
        max_age = max(0, int(person.expires_at - time.time()))
        value = self._fernet.encrypt(json.dumps(person.to_json()).encode()).decode()
        response.set_cookie(
            self.name, value, max_age=max_age, secure=self.secure, httponly=True, samesite="Strict", path="/"
        )
        # double-submit token for Dash's POSTs: readable by the page's scripts, useless to another site
        response.set_cookie(
            CSRF_COOKIE, person.csrf, max_age=max_age, secure=self.secure, httponly=False, samesite="Strict"
        )

    def clear(self, response: Response) -> None:
        for name in (self.name, CSRF_COOKIE):
            response.delete_cookie(name, secure=self.secure, httponly=name != CSRF_COOKIE, samesite="Strict")

    def write_signin_csrf(self, response: Response, token: str) -> None:
        response.set_cookie(
            SIGNIN_CSRF_COOKIE,
            token,
            max_age=3600,
            secure=self.secure,
            httponly=True,
            samesite="Strict",
            path="/login",
        )
