"""Password hashes: scrypt with the documented default cost, a salt per hash, the cost read back from the
stored hash, and nothing but the exact password matching (a damaged hash never does)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from fitpipe.passwords import DEFAULT_COST, ScryptCost, generate_password, hash_password, verify_password

CHEAP = ScryptCost(n=2**10, r=8, p=1)


def test_the_default_cost_is_owasps_minimum_and_is_stored_with_the_hash() -> None:
    assert ScryptCost(n=2**15, r=8, p=3) == DEFAULT_COST
    scheme, n, r, p, salt, digest = hash_password("correct horse battery").split("$")
    assert (scheme, n, r, p) == ("scrypt", "32768", "8", "3")
    assert len(base64.b64decode(salt)) == 16
    expected = hashlib.scrypt(
        b"correct horse battery", salt=base64.b64decode(salt), n=2**15, r=8, p=3, maxmem=2**26, dklen=32
    )
    assert base64.b64decode(digest) == expected


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same password here", CHEAP) != hash_password("same password here", CHEAP)


def test_only_the_exact_password_matches() -> None:
    stored = hash_password("Tr0ub4dor&3 horse", CHEAP)
    assert verify_password(stored, "Tr0ub4dor&3 horse")
    for other in ("tr0ub4dor&3 horse", "Tr0ub4dor&3 horse ", "", "Tr0ub4dor&3"):
        assert not verify_password(stored, other)


def test_a_hash_made_at_another_cost_still_verifies() -> None:
    stored = hash_password("an older account", CHEAP)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password(stored, "an older account", DEFAULT_COST)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain text",
        "sha256$abc",
        "scrypt$1024$8$1$notbase64!$AAAA",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
    ids=["empty", "plain", "other scheme", "bad base64", "missing part", "bad number", "N not a power of 2"],
)
def test_a_damaged_hash_never_matches(stored: str) -> None:
    assert not verify_password(stored, "plain text")


def test_no_stored_hash_never_matches() -> None:
    assert not verify_password(None, "anything at all", CHEAP)


def test_generated_passwords_are_long_random_and_url_safe() -> None:
    made = {generate_password() for _ in range(50)}
    assert len(made) == 50
    assert all(
        len(p) == 20 and set(p) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for p in made
    )
