"""The dashboard application: create_app() wires the API client, the sign-in guard, the layout and the
callbacks; serve() runs it.

Everything it shows comes from the REST API (FITPIPE_API_URL), asked as the signed-in person with their
own session token: the API's per-study and per-role rules and its audit log apply to that person. The
dashboard holds no API token of its own, except in proxy mode a `signin` token that can only start
sessions for the people the auth proxy vouches for (fitpipe_dashboard/auth/).
"""

from __future__ import annotations

from pathlib import Path

from dash import Dash

from fitpipe.settings import Settings, get_settings
from fitpipe_dashboard.auth import current_person, install
from fitpipe_dashboard.callbacks import cohort, contact, participant, pipeline, routing
from fitpipe_dashboard.client import ApiClient
from fitpipe_dashboard.layout.shell import shell

__all__ = ["create_app", "serve"]

ASSETS = Path(__file__).parent / "assets"


def _person_token() -> str | None:
    person = current_person()
    return person.token if person is not None else None


def create_app(api_url: str | None = None, settings: Settings | None = None) -> Dash:
    settings = settings or get_settings()
    api_url = api_url or settings.fitpipe_api_url
    client = ApiClient(api_url, token_source=_person_token)
    app = Dash(
        __name__,
        title="fitpipe · trial dashboard",
        assets_folder=str(ASSETS),
        update_title=None,  # type: ignore[arg-type]  # None: the tab keeps its title while callbacks run
        # an analyst's layout leaves out the contact controls whose callbacks stay registered
        suppress_callback_exceptions=True,
    )
    app.layout = lambda: shell(api_url, current_person())
    install(app, settings, client)
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
