"""The chaos run's webhook receiver: the test receiver, plus what the checks and the monkey need."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.support.receiver import WebhookReceiver


class ChaosReceiver(WebhookReceiver):
    """The test receiver, plus the raw list of alerts it handed to the customer (a dict keyed by alert id
    could never show one handed over twice), a count of keys reused for a different alert, and the ability
    to hold requests open after taking the alert, so that the sender can be killed mid-batch."""

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret)
        self.handed_over: list[str] = []
        self.reused_keys = 0
        self._hold_seconds = 0.0
        self._held_ports: set[int] = set()
        self._peer = threading.local()
        receiver, base = self, self._server.RequestHandlerClass

        class PeerAwareHandler(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                receiver._peer.port = self.client_address[1]
                super().do_POST()

        self._server.RequestHandlerClass = PeerAwareHandler

    def hold_requests(self, seconds: float) -> None:
        """From now on, take each alert and then wait `seconds` before answering (0 stops it)."""
        with self._lock:
            self._hold_seconds = seconds

    def held_ports(self) -> list[int]:
        """Client ports of the requests being held right now."""
        with self._lock:
            return sorted(self._held_ports)

    def _deliver_once(self, key: str, alert: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        status, answer = super()._deliver_once(key, alert)
        with self._lock:
            if status == 422:
                self.reused_keys += 1
            elif answer is None or not answer["duplicate"]:
                self.handed_over.append(key)
            hold, port = self._hold_seconds, getattr(self._peer, "port", None)
            if hold and port is not None:
                self._held_ports.add(port)
        if hold and port is not None:
            time.sleep(hold)
            with self._lock:
                self._held_ports.discard(port)
        return status, answer
