"""Password hashes: scrypt (memory-hard, in the standard library), a random salt per password, the cost
parameters stored with the hash so they can be raised later without invalidating stored passwords.

Format: ``scrypt$<N>$<r>$<p>$<salt, base64>$<hash, base64>``. Verification compares in constant time, and
`verify_password(None, ...)` spends the same work as a real check, so an unknown user name takes as long
as a wrong password (no user enumeration by timing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["ScryptCost", "DEFAULT_COST", "hash_password", "verify_password", "generate_password"]

_SALT_BYTES = 16
_HASH_BYTES = 32


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's N (CPU/memory cost, a power of two), r (block size) and p (parallelism)."""

    n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        # scrypt needs 128 * N * r bytes; OpenSSL refuses anything above maxmem (default 32 MiB)
        return 128 * self.n * self.r * 2


# OWASP's password storage cheat sheet: N=2^15, r=8, p=3 is one of its equivalent minimum settings (32 MiB)
DEFAULT_COST = ScryptCost(n=2**15, r=8, p=3)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=cost.n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.maxmem,
        dklen=_HASH_BYTES,
    )
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_password(stored: str | None, password: str, cost: ScryptCost = DEFAULT_COST) -> bool:
    """True when `password` matches `stored`. With no stored hash (unknown user, proxy-only account) the
    same work is done and the answer is False."""
    if stored is None:
        hash_password(password, cost)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        used = ScryptCost(int(n), int(r), int(p))
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt, validate=True),
            n=used.n,
            r=used.r,
            p=used.p,
            maxmem=used.maxmem,
            dklen=len(expected),
        )
    except ValueError:
        return False  # a damaged hash never matches (the account needs `fitpipe users reset-password`)
    return hmac.compare_digest(actual, expected)


def generate_password() -> str:
    """20 URL-safe characters (120 bits): what `fitpipe users add` prints when no password is given."""
    return secrets.token_urlsafe(15)
