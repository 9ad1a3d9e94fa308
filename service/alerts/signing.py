"""Webhook signatures, as the Standard Webhooks specification defines them (standardwebhooks.com).

The sender adds three headers:

- ``webhook-id``: the alert id (also sent as ``Idempotency-Key``): the same on every resend;
- ``webhook-timestamp``: unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}." + body)>``, space-separated
  when several secrets are in use (rotation).

The id is signed together with the timestamp and the body, so the key a receiver deduplicates on cannot be
swapped: a captured request replayed with a fresh id no longer verifies, and one replayed as is carries an
id the receiver has already seen. The timestamp bounds how long a capture is worth anything.

The key: a secret written ``whsec_<base64>`` (the specification's form, what its libraries accept) is that
base64 decoded; any other secret is used as its own bytes, and ``standard_secret`` gives the ``whsec_`` form
of it to paste into a receiver that uses a Standard Webhooks library. This module is the documented
receiver helper, so it uses the standard library only: a receiver can copy it as is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"
SCHEME = "v1"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "WEBHOOK_ID_HEADER", "WEBHOOK_SIGNATURE_HEADER", "WEBHOOK_TIMESTAMP_HEADER",
           "SignatureInvalid", "sign", "signature_headers", "signing_key", "standard_secret", "verify"]


class SignatureInvalid(Exception):
    """The signature headers are missing, malformed, forged, or older than the tolerance allows."""


def signing_key(secret: bytes) -> bytes:
    """The HMAC key behind a secret: ``whsec_<base64>`` decoded, any other secret as it is."""
    if secret.startswith(SECRET_PREFIX.encode()):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from exc
        if key:
            return key
    if not secret:
        raise ValueError("the webhook secret is empty")
    return secret


def standard_secret(secret: bytes) -> str:
    """The ``whsec_<base64>`` form of a secret, for a receiver that verifies with a Standard Webhooks library."""
    return SECRET_PREFIX + base64.b64encode(signing_key(secret)).decode()


def sign(secret: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for ``body`` sent as ``webhook_id`` at ``timestamp`` (unix seconds)."""
    return f"{SCHEME},{_digest(signing_key(secret), webhook_id, timestamp, body)}"


def signature_headers(secret: bytes, webhook_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one send (signed now unless ``timestamp`` is given)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {WEBHOOK_ID_HEADER: webhook_id, WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
            WEBHOOK_SIGNATURE_HEADER: sign(secret, webhook_id, timestamp, body)}


def verify(secret: bytes, body: bytes, headers: Mapping[str, str], *,
           tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> str:
    """Return the verified ``webhook-id`` when ``headers`` sign ``body`` with ``secret`` recently enough;
    raise `SignatureInvalid` otherwise. Deduplicate on the id this returns: it is covered by the signature.

    ``headers`` is any mapping of the request's headers (names are matched case-insensitively). Several
    ``v1`` signatures may be present (a sender rotating secrets signs with both); one match suffices.
    """
    webhook_id, timestamp, candidates = _parse(headers)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        # Future timestamps are refused too: a skewed or forged clock must not extend a signature's life.
        raise SignatureInvalid(f"timestamp {timestamp} is outside the {tolerance_seconds}s tolerance")
    expected = _digest(signing_key(secret), webhook_id, timestamp, body)
    # compare_digest on every candidate: the time taken must not reveal how much of a guess was right.
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureInvalid("no signature matches the id, timestamp and body")
    return webhook_id


def _digest(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _parse(headers: Mapping[str, str]) -> tuple[str, int, list[str]]:
    lowered = {str(name).lower(): value for name, value in headers.items()}
    webhook_id = lowered.get(WEBHOOK_ID_HEADER, "")
    timestamp_text = lowered.get(WEBHOOK_TIMESTAMP_HEADER, "")
    signature = lowered.get(WEBHOOK_SIGNATURE_HEADER, "")
    if not (webhook_id and timestamp_text and signature):
        raise SignatureInvalid(f"missing {WEBHOOK_ID_HEADER}, {WEBHOOK_TIMESTAMP_HEADER} or "
                               f"{WEBHOOK_SIGNATURE_HEADER} header")
    if not timestamp_text.isascii() or not timestamp_text.isdigit():
        raise SignatureInvalid("the timestamp is not a whole number of seconds")
    candidates = []
    for item in signature.split():
        version, sep, value = item.partition(",")
        if not sep:
            raise SignatureInvalid(f"malformed {WEBHOOK_SIGNATURE_HEADER} item {item[:40]!r}")
        if version == SCHEME:
            candidates.append(value)
        # Unknown versions are skipped so a sender can add a stronger scheme without breaking receivers.
    if not candidates:
        raise SignatureInvalid(f"{WEBHOOK_SIGNATURE_HEADER} has no {SCHEME} signature")
    return webhook_id, int(timestamp_text), candidates
