"""API fixtures: the app on a fresh database, tokens of each role, a small loaded cohort."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from fitpipe.dbroles import API
from fitpipe.participants import Participant, add_participant
from fitpipe.passwords import ScryptCost
from fitpipe.settings import Settings
from fitpipe.tokens import create_token
from fitpipe.users import PasswordPolicy, add_user
from fitpipe_api.main import create_app
from fitpipe_ingest.load import FileIdentity, LoadOptions, load_parsed_file
from fitpipe_ingest.records import ParsedFile, SampleBatch
from tests.api.contracts import check_answer
from tests.conftest import role_url

Cohort = dict[str, Participant]
"""The `cohort` fixture: participants by external id."""


@dataclass
class Tokens:
    admin: str
    coordinator_a: str
    analyst_a: str
    coordinator_b: str


def load_heart_rate(
    conn: psycopg.Connection,
    participant: Participant,
    start: str,
    seconds: np.ndarray,
    values: np.ndarray,
    path: str = "hr.json",
) -> None:
    t0 = int(pd.Timestamp(start).value // 1000)
    batch = SampleBatch("heart_rate", t0 + seconds.astype(np.int64) * 1_000_000, values, path)
    load_parsed_file(
        conn,
        ParsedFile(path, "test", [batch]),
        {None: participant},
        FileIdentity(path, 1, path),
        LoadOptions(source="test", lag=timedelta(hours=1)),
    )


@pytest.fixture
def cohort(db: psycopg.Connection) -> Cohort:
    """Study a: A1 (2 days of 5-second heart rate), A2 (nothing); study b: B1 (1 day)."""
    a1, _ = add_participant(db, "A1", "a", timezone="America/New_York", email="a1@example.org")
    a2, _ = add_participant(db, "A2", "a", timezone="Europe/London", email="a2@example.org")
    b1, _ = add_participant(db, "B1", "b", timezone="UTC", email="b1@example.org")
    secs = np.arange(0, 2 * 86_400, 5)
    load_heart_rate(db, a1, "2024-01-01T05:00:00Z", secs, 60 + 20 * np.sin(secs / 3600.0))
    secs_b = np.arange(0, 86_400, 10)
    load_heart_rate(db, b1, "2024-01-01T00:00:00Z", secs_b, np.full(secs_b.size, 70.0))
    return {"A1": a1, "A2": a2, "B1": b1}


@pytest.fixture
def tokens(db: psycopg.Connection) -> Tokens:
    return Tokens(
        admin=create_token(db, name="admin", role="admin", studies=[], all_studies=True)[1],
        coordinator_a=create_token(db, name="ca", role="coordinator", studies=["a"])[1],
        analyst_a=create_token(db, name="aa", role="analyst", studies=["a"])[1],
        coordinator_b=create_token(db, name="cb", role="coordinator", studies=["b"])[1],
    )


# cheap hashes for test accounts (verification reads the cost from the stored hash); the default cost is
# tested in tests/fitpipe/test_passwords.py
TEST_PASSWORDS = PasswordPolicy(min_length=12, cost=ScryptCost(n=2**10, r=8, p=1))
PASSWORD = "correct horse battery"


@dataclass
class People:
    """Signed-in people: ids by user name, all with PASSWORD."""

    ids: dict[str, int]


@pytest.fixture
def people(db: psycopg.Connection, cohort: Cohort) -> People:
    """ada (admin, all studies), cora (coordinator of a), anna (analyst of a), bob (coordinator of b)."""
    ids = {}
    for name, role, studies, email in (
        ("ada", "admin", [], "ada@hospital.example"),
        ("cora", "coordinator", ["a"], "cora@hospital.example"),
        ("anna", "analyst", ["a"], "anna@hospital.example"),
        ("bob", "coordinator", ["b"], None),
    ):
        user, _ = add_user(
            db,
            username=name,
            role=role,
            studies=studies,
            all_studies=not studies,
            email=email,
            password=PASSWORD,
            policy=TEST_PASSWORDS,
        )
        ids[name] = user.id
    return People(ids)


def api_settings(**overrides: Any) -> Settings:
    """Settings of a test API: no environment file, cheap scrypt for unknown-user dummy work."""
    return Settings(_env_file=None, fitpipe_password_scrypt_n=2**10, **overrides)


@pytest.fixture
def client(database_url: str, cohort: Cohort, tokens: Tokens) -> Iterator[TestClient]:
    settings = Settings(_env_file=None)
    app = create_app(settings, url=role_url(database_url, API))
    with TestClient(app) as c:
        # every answer a test receives must match the model its route declares (tests/api/contracts.py)
        c.event_hooks["response"] = [lambda response: check_answer(app, response)]
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
