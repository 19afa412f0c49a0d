"""Encrypting OAuth tokens at rest: AES-256-GCM with the key(s) in FITPIPE_TOKEN_KEY, bound to their row.

Each value is stored as version byte (1) | key id (4 bytes) | nonce (12) | ciphertext+tag. The
associated data names the table, participant and column, so a ciphertext copied into another
participant's row does not decrypt. Several comma-separated keys allow rotation: the first one
encrypts, any of them decrypts (re-encryption happens as tokens are refreshed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from fitpipe.errors import ConfigError

__all__ = ["TokenCipher", "generate_key", "KEY_HINT"]

_VERSION = b"\x01"
KEY_HINT = (
    "set FITPIPE_TOKEN_KEY to 32 random bytes in URL-safe base64, e.g. the output of "
    'python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"; '
    "in Kubernetes the operator generates it (spec.tokenKey)"
)


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _decode_key(text: str, position: int) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        # the message names the position only: the value is a secret
        raise ConfigError(
            f"FITPIPE_TOKEN_KEY: key {position} is not 32 bytes of URL-safe base64", hint=KEY_HINT
        )
    return key


class TokenCipher:
    def __init__(self, keys: SecretStr | str | None) -> None:
        text = keys.get_secret_value() if isinstance(keys, SecretStr) else keys
        if not text or not text.strip():
            raise ConfigError(
                "FITPIPE_TOKEN_KEY is not set: participants' tokens cannot be stored or read", hint=KEY_HINT
            )
        decoded = [_decode_key(part, i + 1) for i, part in enumerate(p for p in text.split(",") if p.strip())]
        self._keys = {hashlib.sha256(k).digest()[:4]: AESGCM(k) for k in decoded}
        self._current = hashlib.sha256(decoded[0]).digest()[:4]

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return _VERSION + self._current + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> str:
        blob = bytes(blob)
        if len(blob) < 1 + 4 + 12 + 16 or blob[:1] != _VERSION:
            raise ConfigError(
                f"stored token ({context}) is not in fitpipe's encrypted format",
                hint="the participant must consent again",
            )
        key = self._keys.get(blob[1:5])
        if key is None:
            raise ConfigError(
                f"stored token ({context}) was encrypted with a key that is not in FITPIPE_TOKEN_KEY",
                hint="add the previous key after the new one (comma-separated) while rotating keys",
            )
        try:
            return key.decrypt(blob[5:17], blob[17:], context.encode()).decode()
        except InvalidTag:
            raise ConfigError(
                f"stored token ({context}) does not decrypt: it was altered or belongs to another row",
                hint="the participant must consent again",
            ) from None

    @property
    def current_key_id(self) -> str:
        return self._current.hex()
