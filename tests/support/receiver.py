"""A real webhook receiver for tests: what a careful customer would run.

It listens on 127.0.0.1 on an ephemeral port, verifies the Standard Webhooks headers with the documented
helper, and deduplicates on the verified `webhook-id` (which `Idempotency-Key` must equal) the way Stripe
describes: the first request per key is delivered to "the customer" and its answer stored; a repeat gets
the same answer and delivers nothing; a reused key with another body is refused. Tests can take it down
(503), make it lose acknowledgements, make it hang (accept the request and never answer), and make it
require HTTP basic credentials.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from fraudlog.alerts.signing import SignatureInvalid, verify
from fraudlog.alerts.sinks import IDEMPOTENCY_HEADER


class WebhookReceiver:
    """Use as a context manager: `with WebhookReceiver(secret) as receiver: ... receiver.url ...`."""

    def __init__(self, secret: bytes, *, tolerance_seconds: int = 300) -> None:
        self.secret = secret
        self.tolerance_seconds = tolerance_seconds
        self.delivered: dict[str, dict[str, Any]] = {}  # first body per key, in arrival order
        self.requests_by_key: Counter[str] = Counter()
        self.raw_requests = 0
        self.rejected_signatures = 0
        self._down_until = 0.0
        self._acks_to_lose = 0
        self._hang_after: float = math.inf  # requests answered before every later one hangs
        self._released = threading.Event()
        self.hanging = 0  # requests being held right now
        self.basic_auth: tuple[str, str] | None = None
        self._slow_every, self._slow_seconds = 0, 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval so that leaving the context (shutdown) takes milliseconds, not half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._released.set()  # hanging handlers return, so shutdown does not wait on them
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- controls -------------------------------------------------------------------------------------

    def go_down(self, seconds: float = math.inf) -> None:
        """Answer 503 to everything, for `seconds` or until `come_up`."""
        with self._lock:
            self._down_until = time.monotonic() + seconds

    def come_up(self) -> None:
        with self._lock:
            self._down_until = 0.0

    def lose_next_acks(self, count: int) -> None:
        """Deliver the next `count` new alerts, then drop the connection instead of answering."""
        with self._lock:
            self._acks_to_lose = count

    def hang(self, after: int = 0) -> None:
        """Answer the next `after` requests, then hold every later one open without answering (until exit):
        a receiver stuck on a slow database, as the sender sees it."""
        with self._lock:
            self._hang_after = self.raw_requests + after

    def stop_hanging(self) -> None:
        """Answer new requests again (those already held stay held until exit)."""
        with self._lock:
            self._hang_after = math.inf

    def slow_down(self, every: int, seconds: float) -> None:
        """Take `seconds` to answer every `every`-th request: a receiver with an occasional slow write."""
        with self._lock:
            self._slow_every, self._slow_seconds = every, seconds

    def require_basic_auth(self, user: str, password: str) -> None:
        """Answer 401 to any request without these HTTP basic credentials."""
        self.basic_auth = (user, password)

    # -- what happened --------------------------------------------------------------------------------

    @property
    def delivered_keys(self) -> list[str]:
        with self._lock:
            return list(self.delivered)

    def counts(self) -> tuple[int, int]:
        """(raw requests received, alerts delivered to the customer)."""
        with self._lock:
            return self.raw_requests, len(self.delivered)

    # -- the receiver's logic, called by the handler ---------------------------------------------------

    def receive(self, headers: Any, body: bytes) -> tuple[int, dict[str, Any] | None]:
        """The status and JSON answer for one request; a None answer means "drop the connection"."""
        with self._lock:
            self.raw_requests += 1
            hang = self.raw_requests > self._hang_after
            self.hanging += hang
            slow = self._slow_seconds if self._slow_every and self.raw_requests % self._slow_every == 0 else 0.0
            if time.monotonic() < self._down_until:
                return 503, {"error": "down for maintenance"}
        if hang:
            self._released.wait()
            return 503, {"error": "gave up waiting"}
        if slow:
            time.sleep(slow)
        if self.basic_auth is not None and headers.get("Authorization") != _basic(*self.basic_auth):
            return 401, {"error": "credentials required"}
        try:
            webhook_id = verify(self.secret, body, headers, tolerance_seconds=self.tolerance_seconds)
        except SignatureInvalid as exc:
            with self._lock:
                self.rejected_signatures += 1
            return 401, {"error": str(exc)}
        alert = json.loads(body)
        # An alert's id is its webhook-id; an update of it (docs/alerts.md) keeps the alert's id and has its own.
        message_id = alert.get("update_id") if alert.get("type") == "fraud_alert.updated" else alert.get("alert_id")
        if headers.get(IDEMPOTENCY_HEADER) != webhook_id or message_id != webhook_id:
            return 400, {"error": "Idempotency-Key and the message's id must equal the signed webhook-id"}
        return self._deliver_once(webhook_id, alert)

    def _deliver_once(self, key: str, alert: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            self.requests_by_key[key] += 1
            first = self.delivered.setdefault(key, alert)
            if first is not alert and first != alert:
                return 422, {"error": "Idempotency-Key reused with a different body"}
            answer = {"received": key, "duplicate": first is not alert}
            if first is alert and self._acks_to_lose > 0:
                self._acks_to_lose -= 1
                return 200, None
            return 200, answer


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would offer
        # One write per response and no Nagle: otherwise each answer waits out the client's delayed ACK.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, answer = receiver.receive(self.headers, body)
            if answer is None:
                # The customer has the alert but the sender never hears so: the "lost ack".
                self.close_connection = True
                return
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler
