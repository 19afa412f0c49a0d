"""fitpipe.sessions on the real database: parallel wrong guesses are counted one after the other (the
account row is locked while a password is checked), so no more than the allowed number are ever checked."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from fitpipe.errors import AccountLockedError, SignInError
from fitpipe.participants import add_participant
from fitpipe.passwords import ScryptCost
from fitpipe.sessions import SessionPolicy, sign_in
from fitpipe.users import PasswordPolicy, add_user

pytestmark = pytest.mark.db

CHEAP = PasswordPolicy(min_length=12, cost=ScryptCost(n=2**10, r=8, p=1))
POLICY = SessionPolicy(max_failures=5, lockout=timedelta(minutes=15), passwords=CHEAP)


def test_parallel_wrong_guesses_lock_the_account_after_exactly_the_allowed_number(
    db: psycopg.Connection, database_url: str
) -> None:
    add_participant(db, "P1", "trial")
    add_user(
        db, username="cora", role="coordinator", studies=["trial"], password="the right one!", policy=CHEAP
    )

    def guess(i: int) -> str:
        with psycopg.connect(database_url, autocommit=True) as conn:
            try:
                sign_in(conn, "cora", f"guess number {i}", POLICY)
            except AccountLockedError:
                return "locked"
            except SignInError as exc:
                return exc.reason
        return "signed in"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(guess, range(12)))
    assert sorted(outcomes) == ["locked"] * 8 + ["wrong_password"] * 4
    assert db.execute("SELECT failed_attempts, locked_until > now() FROM users").fetchone() == (0, True)
    with pytest.raises(AccountLockedError):
        sign_in(db, "cora", "the right one!", POLICY)
