"""schemathesis over the OpenAPI document: generated requests to every operation, with a valid token,
never get a server error and answers match their declared schemas.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install '.[test]')"
)

from fitpipe.dbroles import API  # noqa: E402
from fitpipe.settings import Settings  # noqa: E402
from fitpipe_api.main import create_app  # noqa: E402
from tests.conftest import role_url  # noqa: E402

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture
def app(database_url: str, cohort, tokens) -> Iterator[FastAPI]:  # type: ignore[no-untyped-def]
    application = create_app(
        Settings(_env_file=None, mail_server="127.0.0.1", mail_port=9, fitpipe_password_scrypt_n=2**10),  # type: ignore[call-arg]
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
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, not just the first
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 5
    assert failures == {}
