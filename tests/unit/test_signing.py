"""Webhook signatures: what a receiver can rely on when it calls `verify`, or a Standard Webhooks library."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
import standardwebhooks

from fraudlog.alerts import signing
from fraudlog.alerts.relay import webhook_secret
from fraudlog.alerts.signing import SignatureInvalid, sign, signature_headers, standard_secret, verify
from fraudlog.cli import main
from fraudlog.config import ConfigError, Settings

SECRET = b"whsec-unit"
BODY = b'{"alert_id":"a1","score":0.97}'
ALERT_ID = "a1"
T = 1_800_000_000


def headers(secret: bytes = SECRET, webhook_id: str = ALERT_ID, body: bytes = BODY, t: int = T) -> dict[str, str]:
    return signature_headers(secret, webhook_id, body, t)


def test_a_signed_body_verifies_and_yields_its_webhook_id() -> None:
    assert verify(SECRET, BODY, headers(), now=T) == ALERT_ID


def test_the_signature_is_standard_webhooks_base64_hmac_sha256_over_id_dot_timestamp_dot_body() -> None:
    # Pinned, computed independently of the module: a receiver written from the spec keeps verifying.
    expected = base64.b64encode(hmac.new(SECRET, f"{ALERT_ID}.{T}.".encode() + BODY, hashlib.sha256).digest())
    assert headers() == {"webhook-id": ALERT_ID, "webhook-timestamp": str(T),
                         "webhook-signature": f"v1,{expected.decode()}"}


def test_the_standardwebhooks_reference_library_verifies_our_signature() -> None:
    # What a receiver does with the library: the whsec_ form of our secret, the raw body, the headers.
    receiver = standardwebhooks.Webhook(standard_secret(SECRET))
    body = b'{"alert_id":"ed093263-1faf-5444-9a35-a6d6fab6b52d","score":0.97}'
    sent = signature_headers(SECRET, "ed093263-1faf-5444-9a35-a6d6fab6b52d", body)

    assert receiver.verify(body, sent) == {"alert_id": "ed093263-1faf-5444-9a35-a6d6fab6b52d", "score": 0.97}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        receiver.verify(body, {**sent, "webhook-id": "another-key"})


def test_a_whsec_secret_is_the_base64_key_and_round_trips() -> None:
    key = b"\x00\x01raw key bytes\xff"
    whsec = standard_secret(key)
    assert whsec.startswith("whsec_") and base64.b64decode(whsec[6:]) == key
    assert sign(whsec.encode(), ALERT_ID, T, BODY) == sign(key, ALERT_ID, T, BODY)
    verify(whsec.encode(), BODY, signature_headers(key, ALERT_ID, BODY, T), now=T)


def test_a_replay_with_a_new_idempotency_key_is_rejected() -> None:
    # The attack the old scheme allowed: same body, same timestamp and signature, a fresh key to dedupe on.
    captured = headers()
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, BODY, {**captured, "webhook-id": "a-fresh-key"}, now=T)


def test_a_changed_body_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, BODY.replace(b"0.97", b"0.01"), headers(), now=T)


def test_a_signature_made_with_another_secret_is_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, BODY, headers(secret=b"guessed"), now=T)


def test_a_moved_timestamp_breaks_the_signature() -> None:
    # The timestamp is signed: a replayer cannot freshen an old request by editing it.
    old = headers(t=T - 3_600)
    with pytest.raises(SignatureInvalid, match="no signature matches"):
        verify(SECRET, BODY, {**old, "webhook-timestamp": str(T)}, now=T)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_signature_older_or_newer_than_the_tolerance_is_rejected(age: int) -> None:
    with pytest.raises(SignatureInvalid, match="tolerance"):
        verify(SECRET, BODY, headers(), now=T + age)


@pytest.mark.parametrize("age", [300, -300, 0])
def test_a_signature_within_the_tolerance_verifies(age: int) -> None:
    verify(SECRET, BODY, headers(), now=T + age)


def test_the_tolerance_can_be_tightened() -> None:
    with pytest.raises(SignatureInvalid):
        verify(SECRET, BODY, headers(), now=T + 31, tolerance_seconds=30)


def test_header_names_are_matched_whatever_their_case() -> None:
    assert verify(SECRET, BODY, {name.title(): value for name, value in headers().items()}, now=T) == ALERT_ID


@pytest.mark.parametrize("change", [
    {"webhook-id": ""}, {"webhook-timestamp": ""}, {"webhook-signature": ""},
    {"webhook-timestamp": "abc"}, {"webhook-timestamp": "-5"}, {"webhook-timestamp": "1.5"},
    {"webhook-timestamp": "\uff11\uff12\uff13"}, {"webhook-signature": "garbage"},
    {"webhook-signature": "v0,AAAA"}, {"webhook-signature": f"v1={'0' * 44}"},
])
def test_malformed_headers_are_rejected(change: dict[str, str]) -> None:
    with pytest.raises(SignatureInvalid):
        verify(SECRET, BODY, {**headers(), **change}, now=T)


def test_one_matching_signature_among_several_is_enough_for_secret_rotation() -> None:
    new = sign(b"new-secret", ALERT_ID, T, BODY)
    old = sign(SECRET, ALERT_ID, T, BODY)
    both = {**headers(), "webhook-signature": f"{new} {old}"}
    verify(SECRET, BODY, both, now=T)
    verify(b"new-secret", BODY, both, now=T)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    verify(SECRET, BODY, headers(), now=T)
    assert len(calls) == 1


def test_the_webhook_secret_is_the_explicit_one_when_set() -> None:
    settings = Settings(secret_key=b"artifact-key", webhook_secret=b"whsec-explicit")
    assert webhook_secret(settings) == b"whsec-explicit"


def test_the_derived_webhook_secret_does_not_reveal_the_secret_key() -> None:
    settings = Settings(secret_key=b"artifact-key")

    derived = webhook_secret(settings)

    assert derived == hmac.new(b"artifact-key", b"fraudlog-webhook", hashlib.sha256).hexdigest().encode()
    assert b"artifact-key" not in derived
    assert webhook_secret(Settings(secret_key=b"another-key")) != derived
    with pytest.raises(ConfigError):
        webhook_secret(Settings(secret_key=b""))


def test_fraudlog_alerts_webhook_secret_prints_what_a_standard_webhooks_receiver_needs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", "artifact-key")
    monkeypatch.delenv("FRAUDLOG_WEBHOOK_SECRET", raising=False)
    assert main(["alerts", "webhook-secret"]) == 0
    printed = capsys.readouterr().out.strip()

    derived = webhook_secret(Settings(secret_key=b"artifact-key"))
    assert printed == standard_secret(derived)
    body = b'{"alert_id":"a1"}'
    standardwebhooks.Webhook(printed).verify(body, signature_headers(derived, "a1", body))
