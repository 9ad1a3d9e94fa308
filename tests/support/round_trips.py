"""Count a Postgres client's round trips: a TCP proxy between it and the server that reads what it sends.

A round trip is each Query ('Q') or Sync ('S') message the client sends: either asks the server for answers that
the client then waits for, and a pipeline ends with one Sync however many statements it holds. SQLAlchemy's
statement events cannot count them: the hot paths talk to the driver, and a pipeline is many statements.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

STARTUP_PROTOCOL = 196608  # protocol 3.0: the last untyped message a client sends (SSL or GSS requests come first)
ASKS_FOR_ANSWERS = (b"Q", b"S")


class RoundTripCounter:
    """Proxies connections to `target` and counts the round trips of all of them (`count`)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        unread = b""
        started = False
        with client, server:
            while True:
                ready, _, _ = select.select([client, server], [], [])
                for side in ready:
                    data = side.recv(1 << 16)
                    if not data:
                        return
                    if side is server:
                        client.sendall(data)
                        continue
                    server.sendall(data)
                    unread, started = self._read_messages(unread + data, started)

    def _read_messages(self, unread: bytes, started: bool) -> tuple[bytes, bool]:
        """Count the complete messages in `unread`; returns what is left of it and whether start-up is over."""
        while True:
            if not started:  # untyped: a 4-byte length, then a 4-byte code
                if len(unread) < 8 or len(unread) < int.from_bytes(unread[:4], "big"):
                    return unread, started
                started = int.from_bytes(unread[4:8], "big") == STARTUP_PROTOCOL
                unread = unread[int.from_bytes(unread[:4], "big"):]
                continue
            if len(unread) < 5 or len(unread) < 1 + int.from_bytes(unread[1:5], "big"):
                return unread, started
            if unread[:1] in ASKS_FOR_ANSWERS:
                with self._lock:
                    self._count += 1
            unread = unread[1 + int.from_bytes(unread[1:5], "big"):]


@contextmanager
def counted_url(url: str) -> Iterator[tuple[str, RoundTripCounter]]:
    """`url` through a round-trip counter: connect to the URL it yields and read the counter's `count`."""
    parsed = sa.make_url(url)
    counter = RoundTripCounter((parsed.host or "127.0.0.1", parsed.port or 5432))
    try:
        yield parsed.set(host="127.0.0.1", port=counter.port).render_as_string(hide_password=False), counter
    finally:
        counter.close()
