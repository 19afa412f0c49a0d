"""Fixtures of the connector's tests: its parts built from the shared settings and virtual clock as a run
builds them (one HTTP pool, one retry policy and one set of counters for the API and the token endpoint).
The fake API, its settings and grants come from tests/fakes/google_health_fixtures.py."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from fitpipe.google_health.client import GoogleHealthClient
from fitpipe.google_health.oauth import OAuthClient
from fitpipe.google_health.settings import GoogleHealthSettings
from fitpipe.google_health.tokens import TokenCipher
from tests.fakes.google_health import VirtualClock


@pytest.fixture
def rng() -> random.Random:
    return random.Random(7)


@pytest.fixture
def client(
    settings: GoogleHealthSettings, clock: VirtualClock, rng: random.Random
) -> Iterator[GoogleHealthClient]:
    api = GoogleHealthClient(settings, clock=clock, rng=rng)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def oauth(
    settings: GoogleHealthSettings, clock: VirtualClock, rng: random.Random, client: GoogleHealthClient
) -> OAuthClient:
    return OAuthClient(
        settings, http=client.http, clock=clock, rng=rng, policy=client.policy, stats=client.stats
    )


@pytest.fixture
def cipher(settings: GoogleHealthSettings) -> TokenCipher:
    return TokenCipher(settings.fitpipe_token_key)
