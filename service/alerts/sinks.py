"""Where alerts go: a small sink protocol and its three implementations.

A sink delivers one alert (the outbox payload) or raises `DeliveryFailed`; the relay owns retries and
bookkeeping. This is the transport seam that keeps delivery tests network-free when they want to be.
Every sink may see the same alert more than once (a relay can die between sending and recording), so
consumers deduplicate on `alert_id`, which the webhook also sends as its Idempotency-Key.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol

import httpx

from fraudlog.alerts.signing import signature_headers
from fraudlog.config import ConfigError
from fraudlog.redaction import has_ambiguous_authority, redact_url, redact_urls
from fraudlog.store.rows import AlertPayloadJSON

IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "fraudlog-alerts/1"
DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_REASON_CHARS = 300


class DeliveryFailed(Exception):
    """The sink did not take the alert; the message is a one-line reason kept as the alert's last_error."""


class AlertSink(Protocol):
    def send(self, alert: AlertPayloadJSON) -> None:
        """Deliver one alert or raise DeliveryFailed."""

    def close(self) -> None:
        """Release connections and files."""


def encode_alert(alert: AlertPayloadJSON) -> bytes:
    """The bytes sent for an alert: compact, sorted keys, so a resend carries the same body."""
    return json.dumps(alert, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()


def _reason(text: str) -> str:
    # Reasons end up in `last_error`, which `GET /v1/alerts` and `fraudlog alerts` show: no URL credentials.
    return redact_urls(" ".join(text.split()))[:MAX_REASON_CHARS]


class JsonLinesSink:
    """Appends one JSON line per alert and fsyncs it: a delivered alert survives a power cut."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None

    def send(self, alert: AlertPayloadJSON) -> None:
        line = encode_alert(alert) + b"\n"
        try:
            with self._lock:
                if self._fd is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    # O_APPEND makes each single write land whole at the end, even with two relay processes.
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
                os.write(self._fd, line)
                os.fsync(self._fd)
        except OSError as exc:
            raise DeliveryFailed(_reason(f"cannot append to {self.path}: {exc}")) from exc

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class WebhookSink:
    """POSTs each alert signed as Standard Webhooks says, `webhook-id` and `Idempotency-Key` both the alert id;
    any 2xx answer means delivered."""

    def __init__(self, url: str, secret: bytes, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._url = url
        self.url = redact_url(url)  # what may be shown: never the credentials the URL carries
        self._secret = secret
        # One client per sink: keep-alive saves a TCP (and TLS) handshake per alert.
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                    headers={"User-Agent": USER_AGENT})

    def send(self, alert: AlertPayloadJSON) -> None:
        body = encode_alert(alert)
        # An update of an alert carries the alert's id and its own `update_id`: the message's id, so that the
        # receiver, deduplicating on webhook-id, takes the update once and does not drop it as a repeat.
        alert_id = str(alert.get("update_id", alert["alert_id"]))
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: alert_id,
            # Signed at send time, not at creation: a resend after an outage is fresh, not "stale".
            **signature_headers(self._secret, alert_id, body),
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(_reason(f"{type(exc).__name__} posting to {self.url}: {exc}")) from exc
        if not response.is_success:
            excerpt = response.text[:120]
            raise DeliveryFailed(_reason(f"HTTP {response.status_code} from {self.url}: {excerpt}"))

    def close(self) -> None:
        self._client.close()


class InMemorySink:
    """Records what it is sent; fails its first `fail_times` sends. For tests and experiments."""

    def __init__(self, fail_times: int = 0, reason: str = "in-memory sink told to fail") -> None:
        self.sent: list[AlertPayloadJSON] = []
        self.attempts = 0
        self._failures_left = fail_times
        self._reason = reason
        self._lock = threading.Lock()

    def send(self, alert: AlertPayloadJSON) -> None:
        with self._lock:
            self.attempts += 1
            if self._failures_left > 0:
                self._failures_left -= 1
                raise DeliveryFailed(self._reason)
            self.sent.append(alert.copy())

    def close(self) -> None:
        pass


def sink_from_url(url: str, secret: bytes, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> AlertSink:
    """The sink FRAUDLOG_ALERT_SINK names: `jsonl://PATH`, `http(s)://...` or `memory://`."""
    if url.startswith("jsonl://"):
        path = url[len("jsonl://"):]
        if not path:
            raise ConfigError("FRAUDLOG_ALERT_SINK=jsonl:// needs a path, e.g. jsonl://./alerts.jsonl")
        return JsonLinesSink(path)
    if url.startswith(("http://", "https://")):
        _refuse_malformed_webhook_url(url)
        return WebhookSink(url, secret, timeout)
    if url == "memory://":
        return InMemorySink()
    raise ConfigError(f"FRAUDLOG_ALERT_SINK={url!r}: expected jsonl://PATH, https://..., http://... or memory://")


def _refuse_malformed_webhook_url(url: str) -> None:
    """A webhook URL httpx cannot parse, or whose credentials would be misread, fails at startup in one line,
    not at the first send with a traceback (issue 27 #12). The parser's own message is left out: it may quote
    the part of the password it took for a port."""
    hint = "percent-encode reserved characters in the user name and password (# as %23, ? as %3F, / as %2F, " \
           "@ as %40)"
    if has_ambiguous_authority(url):
        raise ConfigError(f"FRAUDLOG_ALERT_SINK={redact_url(url)}: an '@' follows the host; {hint}")
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        raise ConfigError(f"FRAUDLOG_ALERT_SINK={redact_url(url)}: not a valid URL; {hint}") from None
