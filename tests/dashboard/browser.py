"""Driving the dashboard in headless Chromium through dash[testing]: start it against an API, sign in
through its form, read the grid and the figures back from the page, save screenshots."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium.webdriver.chrome.options import Options
from selenium.webdriver.remote.remote_connection import RemoteConnection
from werkzeug.serving import make_server

from fitpipe.settings import Settings
from fitpipe_dashboard.app import create_app
from tests.api.factories import free_port

__all__ = [
    "dashboard_in_browser",
    "sign_in",
    "callback_body",
    "post_from_page",
    "grid_users",
    "figure",
    "screenshot",
]


@contextmanager
def dashboard_in_browser(
    api_url: str, chromium: str, flags: tuple[str, ...], settings: Settings | None = None
) -> Iterator[Any]:
    from dash.testing.browser import Browser

    # selenium 3.141 (what dash[testing] allows) hands urllib3 2 a sentinel timeout it refuses; a number works
    RemoteConnection.set_timeout(120)
    options = Options()
    options.binary_location = chromium
    for flag in flags:
        options.add_argument(flag)
    app = create_app(api_url, settings or Settings(_env_file=None))
    # our own server thread, stopped cleanly: dash's ThreadedRunner stops by raising SystemExit in every
    # thread started after it, the API's worker threads included
    server = make_server("127.0.0.1", free_port(), app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with Browser("chrome", headless=True, options=[options], percy_run=False, wait_timeout=30) as browser:
            browser.fitpipe_app = app  # tests build forged callbacks from it
            # not the server_url setter: it waits for Dash's page, and a stranger gets the sign-in page
            browser._url = f"http://127.0.0.1:{server.server_port}"
            yield browser
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.server.config["FITPIPE_API_CLIENT"].close()


def sign_in(browser: Any, username: str, password: str) -> None:
    """Type into the sign-in form (the browser must be on it) and submit."""
    browser.wait_for_element("#username")
    for field, value in (("#username", username), ("#password", password)):
        element = browser.find_element(field)
        element.clear()
        element.send_keys(value)
    browser.find_element("#signin-submit").click()


def _listed(output: Any) -> list[Any]:
    return output if isinstance(output, list) else [output]


def callback_body(app: Any, output: str, values: dict[str, Any]) -> dict[str, Any]:
    """The JSON dash-renderer would POST to /_dash-update-component for the callback writing `output`
    ("id.property"), with `values` ("id.property" -> value) for its inputs and state; the inputs given
    in `values` count as changed."""
    key, spec = next(
        (k, v)
        for k, v in app.callback_map.items()
        if output in [f"{o.component_id}.{o.component_property}" for o in _listed(v["output"])]
    )

    def props(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [
            {"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
            for i in items
        ]

    outputs: Any = [{"id": o.component_id, "property": o.component_property} for o in _listed(spec["output"])]
    changed = [f"{i['id']}.{i['property']}" for i in spec["inputs"]]
    return {
        "output": key,
        "outputs": outputs if isinstance(spec["output"], list) else outputs[0],
        "inputs": props(spec["inputs"]),
        "state": props(spec["state"]),
        "changedPropIds": [c for c in changed if c in values],
    }


_POST = """
const [body, done] = arguments;
const csrf = (document.cookie.split('; ').find(c => c.startsWith('_csrf_token=')) || '').split('=')[1];
fetch('/_dash-update-component', {
    method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
    body: JSON.stringify(body),
}).then(r => r.text().then(text => done({status: r.status, text: text})));
"""


def post_from_page(browser: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POST a callback from inside the page, as its own scripts would: the person's cookies, the CSRF
    header from the page's cookie, the page's origin. Returns {status, text}."""
    return dict(browser.driver.execute_async_script(_POST, body))


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
