"""Webhook signatures, the way payment providers sign theirs: a timestamped HMAC-SHA256.

The sender adds ``Fraudlog-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>``.
Signing the timestamp with the body lets a receiver refuse a captured request replayed later (the
tolerance window), and the Idempotency-Key covers honest resends inside it. This module is the documented
receiver helper, so it uses the standard library only: a receiver can copy it as is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Fraudlog-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "SIGNATURE_HEADER", "SignatureInvalid", "sign", "verify"]


class SignatureInvalid(Exception):
    """The signature header is missing, malformed, forged, or older than the tolerance allows."""


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``Fraudlog-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},{SCHEME}={_digest(secret, body, timestamp)}"


def verify(secret: bytes, body: bytes, header: str | None, *,
           tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> None:
    """Return quietly when ``header`` signs ``body`` with ``secret`` recently enough; raise otherwise.

    Several ``v1`` values may be present (a sender rotating secrets signs with both); one match suffices.
    """
    timestamp, candidates = _parse(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        # Future timestamps are refused too: a skewed or forged clock must not extend a signature's life.
        raise SignatureInvalid(f"timestamp {timestamp} is outside the {tolerance_seconds}s tolerance")
    expected = _digest(secret, body, timestamp)
    # compare_digest on every candidate: the time taken must not reveal how much of a guess was right.
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureInvalid("no signature matches the body")


def _digest(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureInvalid(f"malformed {SIGNATURE_HEADER} item {item.strip()[:40]!r}")
        if key == "t":
            if not value.isascii() or not value.isdigit():
                raise SignatureInvalid("the timestamp is not a whole number of seconds")
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
        # Unknown schemes are skipped so a sender can add a stronger one without breaking receivers.
    if timestamp is None:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} has no t= timestamp")
    if not candidates:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} has no {SCHEME}= signature")
    return timestamp, candidates
