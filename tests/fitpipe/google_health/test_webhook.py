"""Webhook authentication without HTTP: the handshake's secret, and ECDSA P-256 signatures in either header and
either encoding."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pydantic import SecretStr

from fitpipe.google_health.webhook import (
    load_public_keys,
    notification_status,
    secret_status,
    signature_valid,
)
from tests.fakes.google_health import FakeGoogleHealth

BODY = b'{"data":{"healthUserId":"1","dataType":"steps","operation":"UPSERT","intervals":[]}}'


def test_the_handshake_accepts_only_the_configured_secret() -> None:
    secret = SecretStr("s3cret")
    assert secret_status("s3cret", secret) == 201
    assert secret_status("Bearer s3cret", secret) == 201
    assert secret_status(None, secret) == 401
    assert secret_status("other", secret) == 403
    assert secret_status("s3cret", None) == 503


def test_signatures_verify_in_der_or_raw_form_under_either_header() -> None:
    fake = FakeGoogleHealth()
    keys = load_public_keys(fake.public_key_pem())
    der = fake.sign(BODY)
    r, s = decode_dss_signature(base64.b64decode(der))
    raw = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    for header in ("google-health-api-signature", "x-healthapi-signature"):
        for signature in (der, raw):
            assert signature_valid(BODY, {header: signature}, keys)
    assert not signature_valid(BODY + b" ", {"google-health-api-signature": der}, keys)
    other = ec.generate_private_key(ec.SECP256R1()).sign(BODY, ec.ECDSA(hashes.SHA256()))
    assert not signature_valid(BODY, {"google-health-api-signature": base64.b64encode(other).decode()}, keys)


def test_with_keys_a_notification_must_be_signed_without_them_it_must_carry_the_secret() -> None:
    fake = FakeGoogleHealth()
    keys, secret = load_public_keys(fake.public_key_pem()), SecretStr("s3cret")
    signed = {"google-health-api-signature": fake.sign(BODY)}
    assert notification_status(BODY, signed, secret, keys) == 0
    assert notification_status(BODY, {}, secret, keys) == 401
    assert notification_status(BODY, signed | {"authorization": "wrong"}, secret, keys) == 403
    assert notification_status(BODY, {"authorization": "s3cret"}, secret, []) == 0
    assert notification_status(BODY, {}, secret, []) == 401
