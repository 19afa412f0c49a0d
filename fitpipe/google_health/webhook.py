"""Authenticating Google Health webhook calls: the verification handshake (the configured secret in
`Authorization` → 201, missing → 401, wrong → 403) and the ECDSA P-256 signature over the raw body in
`GOOGLE-HEALTH-API-SIGNATURE` (formerly `X-HEALTHAPI-SIGNATURE`; both are read).

Google's pages do not say how the signature is encoded: base64 (standard or URL-safe) of a DER signature
or of raw r‖s (64 bytes) are both accepted. With public keys configured a notification must be signed;
without, it must carry the secret like the handshake.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import SecretStr

from fitpipe.errors import ConfigError

__all__ = ["SIGNATURE_HEADERS", "secret_status", "signature_valid", "load_public_keys", "notification_status"]

SIGNATURE_HEADERS = ("google-health-api-signature", "x-healthapi-signature")
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


def secret_status(authorization: str | None, secret: SecretStr | None) -> int:
    """201 when `authorization` carries the secret (as is, or after 'Bearer '), 401 when absent, 403 when wrong."""
    if secret is None:
        return 503
    if not authorization:
        return 401
    given = authorization.strip()
    if given.lower().startswith("bearer "):
        given = given[7:].strip()
    return 201 if hmac.compare_digest(given.encode(), secret.get_secret_value().encode()) else 403


def load_public_keys(pem: str | None) -> list[ec.EllipticCurvePublicKey]:
    if not pem:
        return []
    keys = []
    for block in _PEM.findall(pem):
        key = load_pem_public_key(block.encode())
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ConfigError(
                "GOOGLE_HEALTH_WEBHOOK_PUBLIC_KEYS: not an ECDSA P-256 public key",
                hint="paste the PEM key(s) Google publishes for webhook signatures",
            )
        keys.append(key)
    if not keys:
        raise ConfigError(
            "GOOGLE_HEALTH_WEBHOOK_PUBLIC_KEYS holds no PEM public key",
            hint="expected -----BEGIN PUBLIC KEY----- blocks",
        )
    return keys


def _decode(signature: str) -> list[bytes]:
    text = signature.strip()
    raw = None
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (None, b"-_"):
        try:  # validate: the plain decoder would drop URL-safe characters silently
            raw = base64.b64decode(padded, altchars=alphabet, validate=True)
            break
        except (binascii.Error, ValueError):
            continue
    if raw is None:
        return []
    forms = [raw]
    if len(raw) == 64:
        forms.append(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")))
    return forms


def signature_valid(body: bytes, headers: Mapping[str, str], keys: list[ec.EllipticCurvePublicKey]) -> bool:
    signature = next((headers[h] for h in SIGNATURE_HEADERS if headers.get(h)), None)
    if not signature:
        return False
    for form in _decode(signature):
        for key in keys:
            try:
                key.verify(form, body, ec.ECDSA(hashes.SHA256()))
                return True
            except (InvalidSignature, ValueError):
                continue
    return False


def notification_status(
    body: bytes, headers: Mapping[str, str], secret: SecretStr | None, keys: list[ec.EllipticCurvePublicKey]
) -> int:
    """0 when the notification may be processed, else the HTTP status to refuse it with."""
    if keys:
        if not signature_valid(body, headers, keys):
            return 401
        if headers.get("authorization") and secret is not None:
            return 0 if secret_status(headers.get("authorization"), secret) == 201 else 403
        return 0
    status = secret_status(headers.get("authorization"), secret)
    return 0 if status == 201 else status
