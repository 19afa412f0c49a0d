"""Proxy mode: an auth proxy (oauth2-proxy in front, signing people in at the hospital's OIDC identity
provider) tells the dashboard who is asking, in headers that only it can set.

Trust rests on two things, both required:
- the proxy is the only way in: the dashboard listens on the Pod's loopback and the proxy is a sidecar in the
  same Pod (nothing else can open a connection to it), and the proxy strips the identity headers a client
  sends before setting its own;
- a shared secret: the proxy adds `X-Fitpipe-Proxy-Secret` to every request it forwards; a request without
  the right value is refused, so even a connection that slips past the network boundary cannot claim an
  identity.
The dashboard then starts an API session *for that person* with its `signin` token (which can do nothing
else), so the API applies the person's own role and studies and audits under them.
"""

from __future__ import annotations

import hmac
import logging

from flask import Request

from fitpipe.errors import ConfigError
from fitpipe.settings import Settings

__all__ = ["ProxyTrust", "SECRET_HEADER"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Fitpipe-Proxy-Secret"


class ProxyTrust:
    def __init__(self, settings: Settings) -> None:
        missing = [
            name
            for name, value in (
                ("FITPIPE_DASHBOARD_PROXY_SECRET", settings.fitpipe_dashboard_proxy_secret),
                ("FITPIPE_API_TOKEN", settings.fitpipe_api_token),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            raise ConfigError(
                f"FITPIPE_DASHBOARD_AUTH=proxy needs {' and '.join(missing)}",
                hint="the proxy secret is the value the auth proxy sends in X-Fitpipe-Proxy-Secret; the API "
                "token is a signin token (`fitpipe token create --role signin --name dashboard-proxy`)",
            )
        assert settings.fitpipe_dashboard_proxy_secret is not None and settings.fitpipe_api_token is not None
        self._secret = settings.fitpipe_dashboard_proxy_secret.get_secret_value().encode()
        self.signin_token = settings.fitpipe_api_token.get_secret_value()
        self.user_header = settings.fitpipe_dashboard_proxy_user_header
        self.match = settings.fitpipe_dashboard_proxy_match
        self.sign_out_url = settings.fitpipe_dashboard_sign_out_url

    def vouched(self, request: Request) -> bool:
        """True when the request came through the proxy (it carries the shared secret)."""
        sent = request.headers.get(SECRET_HEADER, "").encode()
        ok = hmac.compare_digest(sent, self._secret)
        if not ok:
            log.warning(
                "refused a request to %s from %s that did not come through the auth proxy (%s)",
                request.path,
                request.remote_addr,
                "wrong secret" if sent else "no secret",
            )
        return ok

    def identity(self, request: Request) -> str | None:
        """Who the proxy says is asking, lower case (fitpipe's user names and emails ignore case)."""
        value = request.headers.get(self.user_header, "").strip().lower()
        return value or None
