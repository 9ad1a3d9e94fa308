"""Webhook signatures: what a receiver can rely on when it calls `verify`."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from service.alerts import signing
from service.alerts.relay import webhook_secret
from service.alerts.signing import SignatureInvalid, sign, verify
from service.config import ConfigError, Settings

SECRET = b"whsec-unit"
BODY = b'{"alert_id":"a1","score":0.97}'
T = 1_800_000_000


def test_a_signed_body_verifies() -> None:
    verify(SECRET, BODY, sign(SECRET, BODY, T), now=T)


def test_the_signature_is_hex_hmac_sha256_over_timestamp_dot_body() -> None:
    # Pinned, so a receiver written in another language from the README keeps verifying.
    expected = hmac.new(SECRET, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, T) == f"t={T},v1={expected}"


def test_a_changed_body_is_rejected() -> None:
    header = sign(SECRET, BODY, T)
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, BODY.replace(b"0.97", b"0.01"), header, now=T)


def test_a_signature_made_with_another_secret_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, BODY, sign(b"guessed", BODY, T), now=T)


def test_a_moved_timestamp_breaks_the_signature() -> None:
    # The timestamp is signed: a replayer cannot freshen an old request by editing t=.
    old = sign(SECRET, BODY, T - 3_600)
    replayed = old.replace(f"t={T - 3_600}", f"t={T}")
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, BODY, replayed, now=T)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_signature_older_or_newer_than_the_tolerance_is_rejected(age: int) -> None:
    with pytest.raises(SignatureInvalid, match="tolerance"):
        verify(SECRET, BODY, sign(SECRET, BODY, T), now=T + age)


@pytest.mark.parametrize("age", [300, -300, 0])
def test_a_signature_within_the_tolerance_verifies(age: int) -> None:
    verify(SECRET, BODY, sign(SECRET, BODY, T), now=T + age)


def test_the_tolerance_can_be_tightened() -> None:
    with pytest.raises(SignatureInvalid):
        verify(SECRET, BODY, sign(SECRET, BODY, T), now=T + 31, tolerance_seconds=30)


@pytest.mark.parametrize("header", [
    None, "", "garbage", "t=,v1=00", "t=abc,v1=00", "t=-5,v1=00", "t=1.5,v1=00", "t=\uff11\uff12\uff13,v1=00",
    f"v1={'0' * 64}", f"t={T}", f"t={T},v0={'0' * 64}", f"t={T};v1={'0' * 64}",
])
def test_malformed_headers_are_rejected(header: str | None) -> None:
    with pytest.raises(SignatureInvalid):
        verify(SECRET, BODY, header, now=T)


def test_one_matching_signature_among_several_is_enough_for_secret_rotation() -> None:
    new = sign(b"new-secret", BODY, T)
    old = sign(SECRET, BODY, T).split(",")[1]
    verify(SECRET, BODY, f"{new},{old}", now=T)
    verify(b"new-secret", BODY, f"{new},{old}", now=T)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    verify(SECRET, BODY, sign(SECRET, BODY, T), now=T)
    assert len(calls) == 1


def test_the_webhook_secret_is_the_explicit_one_when_set() -> None:
    settings = Settings(secret_key=b"artifact-key")
    assert webhook_secret(settings, {"FRAUDLOG_WEBHOOK_SECRET": "whsec-explicit"}) == b"whsec-explicit"


def test_the_derived_webhook_secret_does_not_reveal_the_secret_key() -> None:
    settings = Settings(secret_key=b"artifact-key")

    derived = webhook_secret(settings, {})

    assert derived == hmac.new(b"artifact-key", b"fraudlog-webhook", hashlib.sha256).hexdigest().encode()
    assert b"artifact-key" not in derived
    assert webhook_secret(Settings(secret_key=b"another-key"), {}) != derived
    with pytest.raises(ConfigError):
        webhook_secret(Settings(secret_key=b""), {})
