"""The SSE stream on a real HTTP server: log order with late commits held back, exact resumption, a
consumer that stops reading cut off with its cursor while the others and scoring go on."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine

from fraudlog.client import FraudlogClient, PredictionItem
from fraudlog.config import FeedSettings, Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.sse import parse_events
from fraudlog.store.engine import create_engine
from tests.support.api import served_api
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import wait_until


@dataclass
class Consumer:
    """`FraudlogClient.follow` on a thread, collecting what it yields."""

    url: str
    filters: dict[str, Any] = field(default_factory=lambda: {"after": "0"})
    received: list[PredictionItem] = field(default_factory=list)

    def start(self) -> Consumer:
        self.client = FraudlogClient(self.url)
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        for item in self.client.follow(**self.filters):
            self.received.append(item)

    def positions(self) -> list[int]:
        return [item.position for item in self.received]


@pytest.fixture
def deployment(database_url: str) -> Iterator[tuple[str, Engine]]:
    settings = Settings(database_url=database_url, secret_key=SECRET, feed=FeedSettings(buffer=1_000))
    engine = create_engine(database_url)
    install_version(engine)
    with served_api(settings) as url:
        yield url, engine
    engine.dispose()


def test_a_late_commit_is_streamed_in_order_and_nothing_above_it_goes_first(deployment: tuple[str, Engine]) -> None:
    url, engine = deployment
    consumer = Consumer(url).start()
    p = append_transactions(engine, synthetic_rows(5, seed=31))
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))
    scorer.score_positions(p[:2])
    wait_until(lambda: consumer.positions() == p[:2], timeout=30, message="the first two predictions")
    scorer.score_positions(p[3:])  # 4 and 5 commit before 3
    time.sleep(0.5)  # many ticks of the shared reader: none may deliver 4 or 5 before 3
    assert consumer.positions() == p[:2]
    scorer.score_positions([p[2]])
    wait_until(lambda: len(consumer.received) == 5, timeout=30, message="all five")
    assert consumer.positions() == p


def stalled_consumer(url: str, key: str | None = None) -> socket.socket:
    """A consumer that opens the stream and never reads: a tiny receive buffer fills at once."""
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.sendall(f"GET /v1/predictions/stream?after=0&features=true HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                 f"Accept: text/event-stream\r\n{auth}\r\n".encode())
    return sock


def read_to_end(sock: socket.socket) -> list[str]:
    """Everything the stalled consumer was sent, up to the server closing the connection."""
    sock.settimeout(30)
    deadline = time.monotonic() + 120
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
        assert time.monotonic() < deadline, "the server never closed the stalled stream"
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return _unchunk(body).decode().split("\n")


def _unchunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_text, _, rest = rest.partition(b"\r\n")
        size = int(size_text, 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def cut_offs() -> float:
    return REGISTRY.get_sample_value("fraudlog_stream_consumers_cut_off_total") or 0.0


def test_a_consumer_that_stops_reading_is_cut_off_with_its_cursor_and_slows_no_one(
        deployment: tuple[str, Engine]) -> None:
    url, engine = deployment
    before = cut_offs()
    reader = Consumer(url).start()
    stalled = stalled_consumer(url)
    wait_until(lambda: (REGISTRY.get_sample_value("fraudlog_stream_consumers") or 0) >= 2, timeout=30,
               message="both streams open")
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))
    positions: list[int] = []
    for batch in range(12):
        new = append_transactions(engine, synthetic_rows(500, seed=100 + batch))
        scorer.score_positions(new)
        positions += new
    wait_until(lambda: len(reader.received) == len(positions), timeout=60, message="the reader to get everything")
    assert reader.positions() == positions
    wait_until(lambda: cut_offs() >= before + 1, timeout=30, message="the stalled consumer to be cut off")

    events = list(parse_events(read_to_end(stalled)))
    got = [json.loads(e.data)["position"] for e in events if e.event == "message"]
    [notice] = [json.loads(e.data) for e in events if e.event == "cut-off"]
    assert got == positions[:len(got)] and len(got) < len(positions)
    assert notice["resume_after"] == (str(got[-1]) if got else "0")
    resumed = Consumer(url, {"after": notice["resume_after"]}).start()
    wait_until(lambda: len(got) + len(resumed.received) == len(positions), timeout=60, message="the resumption")
    assert got + resumed.positions() == positions


def test_streams_per_key_are_limited_and_idle_streams_send_heartbeats(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, secret_key=SECRET,
                        feed=FeedSettings(streams_per_key=1, heartbeat=timedelta(seconds=0.2)))
    with served_api(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        with http.stream("GET", "/v1/predictions/stream") as first:
            lines = first.iter_lines()
            assert next(lines) == "retry: 1000" and next(lines) == "event: start"
            with http.stream("GET", "/v1/predictions/stream") as second:  # headers only: a stream never ends
                assert second.status_code == 429 and second.headers["retry-after"]
                assert second.headers["content-type"].startswith("application/problem+json")
            assert ": heartbeat" in [next(lines) for _ in range(6)]
        wait_until(lambda: REGISTRY.get_sample_value("fraudlog_stream_consumers") == 0, timeout=10,
                   message="the closed stream to give its place back")
        with http.stream("GET", "/v1/predictions/stream") as again:  # the first one's place was given back
            assert again.status_code == 200


def test_a_consumer_far_behind_that_never_reads_is_cut_off_and_gives_its_place_back(sqlite_url: str) -> None:
    """Issue 27 #6: a stream starting far behind catches up alone, writing straight to the consumer; one that
    never reads held its slot (and the API's memory) for good, uncounted."""
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, feed=FeedSettings(heartbeat=timedelta(seconds=0.5)))
    engine = create_engine(sqlite_url)
    install_version(engine)
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))
    for batch in range(10):  # far more than a catch-up read and than the socket buffers hold, with features
        scorer.score_positions(append_transactions(engine, synthetic_rows(500, seed=300 + batch)))
    before = cut_offs()
    with served_api(settings) as url:
        stalled = stalled_consumer(url)
        wait_until(lambda: cut_offs() >= before + 1, timeout=60, message="the stalled consumer to be cut off")
        wait_until(lambda: REGISTRY.get_sample_value("fraudlog_stream_consumers") == 0, timeout=10,
                   message="its place to be given back")
        stalled.close()
    engine.dispose()
