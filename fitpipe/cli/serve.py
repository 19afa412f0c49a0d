"""`fitpipe serve api|dashboard`: run the API or the dashboard in the foreground."""

from __future__ import annotations

import logging
import logging.config

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
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Server processes [default: FITPIPE_API_WORKERS, 1].",
)
def api(host: str, port: int, workers: int | None) -> None:
    """Serve the REST API (OpenAPI docs at /docs).

    Capacity comes from the settings: FITPIPE_API_WORKERS processes, each answering FITPIPE_API_POOL_SIZE
    requests from the database at once and streaming FITPIPE_API_EXPORT_SLOTS exports; see "Sizing the
    API" in docs/operations.md. Logs are JSON lines unless stderr is a terminal (FITPIPE_LOG_FORMAT).
    """
    import uvicorn

    from fitpipe.db import database_url
    from fitpipe.dbroles import API
    from fitpipe.memory import tune_allocator
    from fitpipe.settings import get_settings
    from fitpipe_api.db import LoginGuard
    from fitpipe_api.logs import log_config

    settings = get_settings()
    workers = workers or settings.fitpipe_api_workers
    # the app refuses too (lifespan); checked here first for a one-line error instead of a traceback
    LoginGuard(settings.fitpipe_api_allow_superuser).check_at_start(database_url(role=API))
    tune_allocator()
    config = log_config(settings)
    logging.config.dictConfig(config)  # the banner is a log line too (JSON off a terminal)
    logging.getLogger("fitpipe.serve").info(
        "fitpipe API on http://%s:%d (docs: /docs): %d worker(s), each %d request slots and %d export slots",
        host,
        port,
        workers,
        settings.fitpipe_api_pool_size,
        settings.fitpipe_api_export_slots,
    )
    uvicorn.run(
        "fitpipe_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=config,
        log_level=settings.fitpipe_log_level.lower(),
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
