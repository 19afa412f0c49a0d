"""No client input gets a 5xx, over real sockets to `fitpipe serve api`: a corpus of dates outside what Python or
PostgreSQL hold, impossible dates, odd offsets, huge and non-finite numbers, repeated and unknown parameters,
long and non-ASCII strings, on every route that takes them; oversized bodies and query strings. Each answer is
a 422 naming the parameter, another 4xx saying what is wrong, or a correct (possibly empty) answer."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import psycopg
import pytest

from tests.api.conftest import Cohort, Tokens, auth
from tests.api.corpus import DATES, NUMBERS, STRINGS
from tests.api.server import ApiServer, serve_api

pytestmark = [pytest.mark.db, pytest.mark.slow]

SERVER_ERRORS: list[str] = []


def _check(
    server: ApiServer,
    method: str,
    path: str,
    params: Mapping[str, str] | tuple[tuple[str, str], ...],
    **kw: Any,
) -> httpx.Response:
    r = httpx.request(method, server.url + path, params=params, timeout=60, **kw)
    where = f"{method} {path}?{urlencode(params)[:200]}"
    if r.status_code >= 500:
        SERVER_ERRORS.append(f"{where} -> {r.status_code} {r.text[:300]}")
    elif r.status_code == 422:
        body = r.json()
        assert "detail" in body and body.get("parameter"), f"{where}: a 422 names its parameter: {body}"
    return r


@pytest.fixture
def server(database_url: str, cohort: Cohort, tokens: Tokens, tmp_path: Path) -> Iterator[ApiServer]:
    SERVER_ERRORS.clear()
    with serve_api(database_url, tmp_path / "home") as s:
        yield s


def test_dates_numbers_and_strings_from_the_corpus_never_get_a_server_error(
    server: ApiServer, tokens: Tokens
) -> None:
    h = {"headers": auth(tokens.admin)}
    ts = {"user_id": "A1", "metric": "heart_rate"}
    for value in DATES:
        for name in ("start_date", "end_date"):
            for impute in ("none", "auto"):
                r = _check(server, "GET", "/api/v1/timeseries", {**ts, name: value, "impute": impute}, **h)
                if r.status_code == 422:
                    assert r.json()["parameter"] in (name, "impute", "start_date"), r.text
            _check(server, "GET", "/api/v1/adherence", {"study": "a", name: value}, **h)
            _check(server, "GET", "/api/v1/participants/A1", {name: value}, **h)
            _check(server, "GET", "/api/v1/sleep", {"user_id": "A1", name: value}, **h)
        _check(
            server, "GET", "/api/v1/timeseries", {**ts, "start_date": "1900-01-01", "end_date": value}, **h
        )
        _check(
            server,
            "GET",
            "/api/v1/adherence",
            {"study": "a", "start_date": value, "end_date": "2024-01-02"},
            **h,
        )
    for value in NUMBERS:
        _check(server, "GET", "/api/v1/timeseries", {**ts, "max_points": value}, **h)
        _check(server, "GET", "/api/v1/ingest/runs", {"limit": value}, **h)
        _check(server, "GET", "/api/v1/quarantine", {"limit": value}, **h)
        _check(server, "GET", "/api/v1/adherence", {"study": "a", "valid_hours": value}, **h)
        _check(server, "POST", "/api/v1/contact/flagged", {"study": "a", "dry_run": value}, **h)
    for value in STRINGS:
        _check(server, "GET", "/api/v1/participants", {"study": value}, **h)
        _check(server, "GET", "/api/v1/adherence", {"study": value}, **h)
        _check(server, "GET", "/api/v1/timeseries", {"user_id": value, "metric": "heart_rate"}, **h)
        _check(server, "GET", "/api/v1/timeseries", {"user_id": "A1", "metric": value}, **h)
        _check(server, "GET", "/api/v1/timeseries", {**ts, "granularity": value}, **h)
        _check(server, "GET", "/api/v1/quarantine", {"study": value}, **h)
        _check(server, "GET", "/api/v1/oauth/google-health/callback", {"state": value, "code": value}, **h)
        segment = quote(value[:200], safe="")
        _check(server, "GET", f"/api/v1/participants/{segment}", {}, **h)
        _check(server, "GET", f"/api/v1/participants/{segment}/connect", {}, **h)
        if value.isascii() and value.isprintable():  # what an HTTP client can put in a header at all
            _check(server, "GET", "/api/v1/metrics-catalog", {}, headers={"Authorization": f"Bearer {value}"})
    assert SERVER_ERRORS == []


def test_far_off_dates_read_everything_there_is_or_nothing(server: ApiServer, tokens: Tokens) -> None:
    h = auth(tokens.admin)
    everything = httpx.get(
        server.url + "/api/v1/timeseries",
        params={
            "user_id": "A1",
            "metric": "heart_rate",
            "start_date": "0001-01-01",
            "end_date": "9999-12-31",
        },
        headers=h,
        timeout=60,
    )
    assert everything.status_code == 200
    [series] = everything.json()["series"]
    assert series["start"] == "1900-01-01T05:00:00Z"  # clamped, in the participant's zone (New York)
    assert sum(series["count"]) == 2 * 86_400 // 5  # every stored sample of A1
    nothing = httpx.get(
        server.url + "/api/v1/sleep",
        params={"user_id": "A1", "start_date": "9999-12-30", "end_date": "9999-12-31"},
        headers=h,
        timeout=60,
    )
    assert nothing.status_code == 200 and nothing.json()["sessions"] == []
    too_long = httpx.get(
        server.url + "/api/v1/adherence",
        params={"study": "a", "start_date": "1900-01-01", "end_date": "9999-12-31"},
        headers=h,
        timeout=60,
    )
    assert too_long.status_code == 422 and too_long.json()["parameter"] == "start_date"
    impossible = httpx.get(
        server.url + "/api/v1/adherence",
        params={"study": "a", "end_date": "2023-02-29"},
        headers=h,
        timeout=60,
    )
    assert impossible.status_code == 422 and impossible.json()["parameter"] == "end_date"


def test_repeated_and_unknown_parameters_are_named(server: ApiServer, tokens: Tokens) -> None:
    h = auth(tokens.admin)
    repeated = httpx.get(
        server.url + "/api/v1/adherence",
        params=[("study", "a"), ("start_date", "2024-01-01"), ("start_date", "2024-01-02")],
        headers=h,
        timeout=30,
    )
    assert repeated.status_code == 422 and repeated.json()["parameter"] == "start_date"
    unknown = httpx.get(
        server.url + "/api/v1/adherence",
        params={"study": "a", "end_dat": "2024-01-01"},
        headers=h,
        timeout=30,
    )
    assert unknown.status_code == 422 and unknown.json()["parameter"] == "end_dat"
    assert "end_date" in unknown.json()["detail"][0]["msg"]  # the names it does take
    several = httpx.get(
        server.url + "/api/v1/timeseries",
        params=[("user_id", "A1"), ("metric", "heart_rate"), ("metric", "heart_rate")],
        headers=h,
        timeout=30,
    )
    assert several.status_code == 200  # metric takes several values; the same one twice counts once
    assert len(several.json()["series"]) == 1


def test_a_non_finite_number_in_a_body_is_a_422_naming_the_field(server: ApiServer, tokens: Tokens) -> None:
    h = {**auth(tokens.admin), "Content-Type": "application/json"}
    url = server.url + "/api/v1/participants/A1/contact"
    for body in (b'{"force": 1e309}', b'{"force": NaN}', b'{"force": -Infinity}', b'{"dry_run": 1e400}'):
        r = httpx.post(url, content=body, headers=h, timeout=30)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["parameter"] in ("force", "dry_run")
    for body in (
        b'{"force": ' + b"9" * 5000 + b"}",
        b"[" * 100_000,
        b"\xff\xfe",
        b'{"reason": "' + "é".encode() * 1000 + b'"}',
    ):
        r = httpx.post(url, content=body, headers=h, timeout=30)
        assert 400 <= r.status_code < 500, (body[:30], r.status_code, r.text[:200])
        assert len(r.content) < 5_000  # whatever was sent is not echoed back at length


def _raw_request(server: ApiServer, head: bytes, body_chunks: Iterator[bytes]) -> tuple[int, bytes]:
    """Send a request over a plain socket (what a client that does not stop would do); return status and answer."""
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall(head)
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        answer = b""
        try:
            while data := s.recv(65536):
                answer += data
        except OSError:
            pass
    match = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    assert match, answer[:200]
    return int(match.group(1)), answer


def test_a_body_over_the_limit_is_refused_with_413_without_echo(server: ApiServer, tokens: Tokens) -> None:
    token = auth(tokens.admin)["Authorization"]
    url = server.url + "/api/v1/participants/A1/contact"
    t0 = time.monotonic()
    declared = httpx.post(
        url,
        content=b'{"reason": "' + b"x" * 50_000_000 + b'"}',
        headers={"Authorization": token, "Content-Type": "application/json"},
        timeout=60,
    )
    assert declared.status_code == 413
    assert len(declared.content) < 1000 and b"xxxx" not in declared.content
    assert time.monotonic() - t0 < 30

    head = (
        b"POST /api/v1/participants/A1/contact HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + token.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )

    def chunked() -> Iterator[bytes]:
        yield b'c\r\n{"reason": "\r\n'
        for _ in range(40):  # 40 x 64 KiB: over the 1 MB limit, with no Content-Length to judge by
            yield b"10000\r\n" + b"y" * 65536 + b"\r\n"
        yield b'2\r\n"}\r\n0\r\n\r\n'

    status, answer = _raw_request(server, head, chunked())
    assert status == 413 and b"yyyy" not in answer

    long_query = httpx.get(
        server.url + "/api/v1/participants",
        params={"study": "a" * 10_000},
        headers={"Authorization": token},
        timeout=30,
    )
    assert long_query.status_code == 414


def test_a_webhook_body_over_the_limit_is_refused(
    database_url: str,
    cohort: Cohort,
    tokens: Tokens,
    tmp_path: Path,
) -> None:
    settings = {"GOOGLE_HEALTH_WEBHOOK_SECRET": "s3cret", "FITPIPE_API_MAX_BODY_BYTES": "2048"}
    with serve_api(database_url, tmp_path / "home", settings) as server:
        r = httpx.post(
            server.url + "/api/v1/webhooks/google-health",
            content=json.dumps([{"data": {"x": "y" * 4000}}]),
            headers={"Authorization": "s3cret", "Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 413 and "2,048 bytes" in r.json()["detail"]


def test_hostile_input_leaves_nothing_in_the_audit_log_beyond_its_bounds(
    server: ApiServer, tokens: Tokens, db: psycopg.Connection
) -> None:
    httpx.get(
        server.url + "/api/v1/participants",
        params={"study": "a"},
        headers={**auth(tokens.admin), "X-Request-ID": "z" * 200_000},
        timeout=30,
    )
    longest = db.execute(
        "SELECT max(length(request_id)), max(length(coalesce(client_request_id, ''))), max(length(detail::text)) FROM audit_log"
    ).fetchone()
    assert longest is not None and longest[0] == 32 and longest[1] == 0 and longest[2] < 500
