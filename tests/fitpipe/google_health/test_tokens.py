"""The token cipher: AES-GCM with the key from FITPIPE_TOKEN_KEY, bound to its row, rotating keys, clear errors."""

from __future__ import annotations

import pytest

from fitpipe.errors import ConfigError
from fitpipe.google_health.tokens import TokenCipher, generate_key


def test_a_token_round_trips_and_is_not_in_the_ciphertext() -> None:
    cipher = TokenCipher(generate_key())
    blob = cipher.encrypt("1//refresh-token-text", "oauth_grants/google_health/7/refresh_token")
    assert b"refresh-token-text" not in blob
    assert cipher.decrypt(blob, "oauth_grants/google_health/7/refresh_token") == "1//refresh-token-text"
    assert blob != cipher.encrypt("1//refresh-token-text", "oauth_grants/google_health/7/refresh_token"), (
        "fresh nonce"
    )


def test_a_ciphertext_does_not_decrypt_for_another_row_or_under_another_key() -> None:
    cipher = TokenCipher(generate_key())
    blob = cipher.encrypt("secret", "oauth_grants/google_health/7/refresh_token")
    with pytest.raises(ConfigError, match="belongs to another row"):
        cipher.decrypt(blob, "oauth_grants/google_health/8/refresh_token")
    with pytest.raises(ConfigError, match="not in FITPIPE_TOKEN_KEY"):
        TokenCipher(generate_key()).decrypt(blob, "oauth_grants/google_health/7/refresh_token")


def test_while_rotating_the_new_key_encrypts_and_the_old_one_still_decrypts() -> None:
    old, new = generate_key(), generate_key()
    before = TokenCipher(old).encrypt("t", "c")
    rotating = TokenCipher(f"{new},{old}")
    assert rotating.decrypt(before, "c") == "t"
    assert TokenCipher(new).decrypt(rotating.encrypt("t", "c"), "c") == "t"


@pytest.mark.parametrize("key", [None, "", "not base64 at all!", "c2hvcnQ="])
def test_a_missing_or_malformed_key_is_refused_without_echoing_it(key: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        TokenCipher(key)
    assert "FITPIPE_TOKEN_KEY" in caught.value.message
    if key:
        assert key not in str(caught.value)
