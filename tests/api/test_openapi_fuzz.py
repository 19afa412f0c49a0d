"""schemathesis over the OpenAPI document: generated requests to every operation, with a valid token, never get
a server error and every answer matches the schema its route declares (fitpipe.contracts); in-process and over
HTTP to a real server, where schemathesis' own runner adds negative data and the boundaries of every constraint.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import Case

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install '.[test]')"
)

from fitpipe.dbroles import API  # noqa: E402
from fitpipe.settings import Settings  # noqa: E402
from fitpipe_api.main import create_app  # noqa: E402
from tests.api.conftest import Cohort, Tokens  # noqa: E402
from tests.api.corpus import DATES, NUMBERS  # noqa: E402
from tests.api.factories import smtp_server  # noqa: E402
from tests.api.server import serve_api  # noqa: E402
from tests.conftest import role_url  # noqa: E402

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture
def app(database_url: str, cohort: Cohort, tokens: Tokens) -> Iterator[FastAPI]:
    application = create_app(
        Settings(_env_file=None, mail_server="127.0.0.1", mail_port=9, fitpipe_password_scrypt_n=2**10),
        url=role_url(database_url, API),
    )
    application.state.pool.open(wait=True)
    application.state.test_token = tokens.admin
    try:
        yield application
    finally:
        application.state.pool.close()


def test_generated_requests_never_get_a_server_error(app: FastAPI) -> None:
    # schemathesis' own pytest plugin does not support pytest 9 yet, so the operations are driven with
    # hypothesis directly: same generation, same checks (no 5xx, status and body match the schema).
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {app.state.test_token}"}
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def check(case: Case) -> None:
            case.call_and_validate(headers=headers)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, not just the first
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 5
    assert failures == {}


def _config(path: Path) -> Path:
    """Dictionaries that steer half the generated values to real ids (so requests get past the 404s into the
    routes' logic) and to the hostile corpus; the other half stays schemathesis' own."""
    dictionaries = {
        "participants": ["A1", "A2", "B1"],
        "studies": ["a", "b"],
        "metrics": ["heart_rate", "steps"],
        "dates": [d for d in DATES if d.isprintable() and len(d) < 100],
        "numbers": [n for n in NUMBERS if n],
    }
    bindings = {
        "path.user_id": "participants",
        "query.user_id": "participants",
        "query.study": "studies",
        "query.metric": "metrics",
        "query.start_date": "dates",
        "query.end_date": "dates",
        "query.limit": "numbers",
        "query.max_points": "numbers",
    }
    lines = []
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}' for key, name in bindings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _schemathesis(
    server_url: str, token: str, report: Path, config: Path | None
) -> subprocess.CompletedProcess[str]:
    cli = [str(Path(sys.executable).with_name("schemathesis"))]
    if config is not None:
        cli += ["--config-file", str(config)]
    return subprocess.run(
        [
            *cli,
            "run",
            server_url + "/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--mode",
            "all",
            "--max-examples",
            "25",
            "--seed",
            "11",
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


@pytest.mark.parametrize("steered", [False, True], ids=["free", "real-ids-and-corpus"])
def test_every_route_fuzzed_with_negative_data_and_boundaries_gets_no_server_error(
    database_url: str,
    cohort: Cohort,
    tokens: Tokens,
    tmp_path: Path,
    steered: bool,
) -> None:
    """schemathesis' own runner against `fitpipe serve api` over HTTP: the coverage phase (the boundaries of every
    constraint and values just outside them) and fuzzing, positive and negative data; once freely, once with
    half the identifiers real and half the dates and numbers from the hostile corpus. Every answer must also
    match its declared schema and media type (response conformance)."""
    # a real SMTP server: contacts that get as far as sending succeed (an unreachable one is a 502, rightly)
    with (
        smtp_server() as (smtp_port, _),
        serve_api(database_url, tmp_path / "home", {"MAIL_PORT": str(smtp_port)}) as server,
    ):
        report = tmp_path / "events.ndjson"
        config = _config(tmp_path / "schemathesis.toml") if steered else None
        run = _schemathesis(server.url, tokens.admin, report, config)
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert not [line for line in server.log_lines() if '"level": "ERROR"' in line]
    tested = {
        label
        for line in report.read_text().splitlines()
        for label in re.findall(r'"label": ?"((?:GET|POST) [^"]+)"', line)
    }
    assert len(tested) >= 16, tested  # every operation of the API
