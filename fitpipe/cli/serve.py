"""`fitpipe serve api|dashboard`: run the API or the dashboard in the foreground."""

from __future__ import annotations

import click

__all__ = ["serve"]


@click.group()
def serve() -> None:
    """Serve the REST API or the dashboard."""


def say(message: str) -> None:
    # click.echo, not the rich console of the other commands: the server's memory stays smaller
    click.echo(message, err=True)


@serve.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def api(host: str, port: int, workers: int) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from fitpipe.db import database_url
    from fitpipe.dbroles import API
    from fitpipe.memory import tune_allocator
    from fitpipe.settings import get_settings
    from fitpipe_api.db import LoginGuard

    # the app refuses too (lifespan); checked here first for a one-line error instead of a traceback
    LoginGuard(get_settings().fitpipe_api_allow_superuser).check_at_start(database_url(role=API))
    tune_allocator()
    say(f"fitpipe API on http://{host}:{port} (docs: /docs)")
    uvicorn.run(
        "fitpipe_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        ws="none",  # no websocket routes; not loading the library keeps the process smaller
    )


@serve.command("dashboard")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
def dashboard(host: str, port: int) -> None:
    """Serve the trial managers' dashboard: people sign in with `fitpipe users` accounts (or, with
    FITPIPE_DASHBOARD_AUTH=proxy, through an auth proxy) and it asks the API at FITPIPE_API_URL as them."""
    from fitpipe_dashboard.app import serve as serve_dashboard

    say(f"fitpipe dashboard on http://{host}:{port}")
    serve_dashboard(host=host, port=port)
