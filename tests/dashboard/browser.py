"""Driving the dashboard in headless Chromium through dash[testing]: start it against an API, read the
grid and the figures back from the page, save screenshots."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium.webdriver.chrome.options import Options
from selenium.webdriver.remote.remote_connection import RemoteConnection
from werkzeug.serving import make_server

from fitpipe_dashboard.app import create_app
from tests.api.factories import free_port

__all__ = ["dashboard_in_browser", "grid_users", "figure", "screenshot"]


@contextmanager
def dashboard_in_browser(api_url: str, token: str, chromium: str, flags: tuple[str, ...]) -> Iterator[Any]:
    from dash.testing.browser import Browser

    # selenium 3.141 (what dash[testing] allows) hands urllib3 2 a sentinel timeout it refuses; a number works
    RemoteConnection.set_timeout(120)
    options = Options()
    options.binary_location = chromium
    for flag in flags:
        options.add_argument(flag)
    app = create_app(api_url, token)
    # our own server thread, stopped cleanly: dash's ThreadedRunner stops by raising SystemExit in every
    # thread started after it, the API's worker threads included
    server = make_server("127.0.0.1", free_port(), app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with Browser("chrome", headless=True, options=[options], percy_run=False, wait_timeout=30) as browser:
            browser.server_url = f"http://127.0.0.1:{server.server_port}"
            yield browser
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.server.config["FITPIPE_API_CLIENT"].close()


_GRID_USERS = """
const rows = Array.from(document.querySelectorAll('#cohort-grid .ag-pinned-left-cols-container .ag-row'));
rows.sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')));
return rows.map(r => r.querySelector('[col-id="user_id"]').innerText.trim());
"""


def grid_users(browser: Any) -> list[str]:
    """Participant ids in the order the grid shows them."""
    return list(browser.driver.execute_script(_GRID_USERS))


def figure(browser: Any, graph_id: str) -> dict[str, Any]:
    """The data and layout Plotly drew in a dcc.Graph."""
    return dict(
        browser.driver.execute_script(
            "const el = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
            "return el ? {data: el.data, layout: el.layout} : null;",
            graph_id,
        )
        or {}
    )


def screenshot(browser: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    browser.driver.save_screenshot(str(path))
