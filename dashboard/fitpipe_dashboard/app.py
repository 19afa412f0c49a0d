"""The dashboard application: create_app() wires the API client, the layout and the callbacks; serve() runs it.

Everything it shows comes from the REST API (FITPIPE_API_URL) with a service token (FITPIPE_API_TOKEN).
"""

from __future__ import annotations

import logging
from pathlib import Path

from dash import Dash

from fitpipe.settings import get_settings
from fitpipe_dashboard.callbacks import cohort, contact, participant, pipeline, routing
from fitpipe_dashboard.client import ApiClient
from fitpipe_dashboard.layout.shell import shell

__all__ = ["create_app", "serve"]

log = logging.getLogger(__name__)
ASSETS = Path(__file__).parent / "assets"


def create_app(api_url: str | None = None, token: str | None = None) -> Dash:
    settings = get_settings()
    api_url = api_url or settings.fitpipe_api_url
    if token is None and settings.fitpipe_api_token is not None:
        token = settings.fitpipe_api_token.get_secret_value()
    if not token:
        log.warning("FITPIPE_API_TOKEN is not set: every page will say the API refused the request")
    client = ApiClient(api_url, token)
    app = Dash(
        __name__,
        title="fitpipe · trial dashboard",
        assets_folder=str(ASSETS),
        update_title=None,  # type: ignore[arg-type]  # None: the tab keeps its title while callbacks run
    )
    app.layout = shell(api_url)
    routing.register(app)
    cohort.register(app, client, settings.fitpipe_contact_cooldown_hours)
    participant.register(app, client)
    contact.register(app, client)
    pipeline.register(app, client)
    app.server.config["FITPIPE_API_CLIENT"] = client  # for tests and the benchmark; never serialised
    return app


def serve(host: str = "127.0.0.1", port: int = 8050, threads: int = 8) -> None:
    """Serve with waitress, a production WSGI server (Flask's own server is for development only)."""
    from waitress import serve as waitress_serve

    waitress_serve(create_app().server, host=host, port=port, threads=threads, ident="fitpipe-dashboard")
