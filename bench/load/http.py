"""The load generator: keep-alive HTTP/1.1 clients over asyncio streams, POSTing transactions for a while.

No httpx here: a minimal client with pre-encoded bodies costs a small fraction of a core, and that
fraction is measured (`cpu`), so the figures are the server's, not the client's. Every answer's receipts
are kept, so that a scenario can check afterwards that everything acknowledged is in the log (`verify`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from bench.load.corpus import Corpus
from bench.load.cpu import CpuSnapshot
from bench.load.services import HOST

# One ingest key per client: the API limits requests per key (FRAUDLOG_RATE_LIMIT), and real traffic comes
# from many clients, so one shared key would measure the limiter, not the service.
API_KEYS = [f"bench-key-{i:02d}" for i in range(64)]


def api_keys_setting(count: int = len(API_KEYS), role: str = "ingest") -> str:
    """FRAUDLOG_API_KEYS for the first `count` bench keys."""
    return ",".join(f"bench{i:02d}:{role}:{key}" for i, key in enumerate(API_KEYS[:count]))


class _Receipt(msgspec.Struct):
    transaction_id: str
    position: int
    status: str


_one_receipt = msgspec.json.Decoder(_Receipt)
_many_receipts = msgspec.json.Decoder(list[_Receipt])


class ProtocolError(Exception):
    pass


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                    ) -> tuple[int, bytes, bool]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    start = lower.find(b"\r\ncontent-length:")
    if start < 0:
        raise ProtocolError("response without content-length")
    end = lower.index(b"\r\n", start + 2)
    body = await reader.readexactly(int(lower[start + 17 : end]))
    return status, body, b"\r\nconnection: close" in lower


@dataclass
class LoadRun:
    """What one timed load run saw from the client side."""

    scenario: str
    workers: int
    clients: int
    batch_size: int
    seconds: float = 0.0
    requests_ok: int = 0
    tx_acked: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # transaction id -> position in the receipt
    unknown: list[str] = field(default_factory=list)  # ids whose request failed: stored or not, unknown
    duplicates: int = 0
    cpu: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.tx_acked / self.seconds if self.seconds else 0.0

    def latency_ms(self, q: float) -> float | None:
        if not self.latencies_ns:
            return None
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


async def run_load(port: int, corpus: Corpus, run: LoadRun, prefix: str, seconds: float,
                   on_tick: Callable[[float, LoadRun], None] | None = None) -> LoadRun:
    """`run.clients` clients POST for `seconds` (batches of `run.batch_size`), ids starting with `prefix`."""
    stop = asyncio.Event()

    def head_for(cid: int) -> bytes:
        return (f"POST /v1/transactions HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {API_KEYS[cid % len(API_KEYS)]}\r\nContent-Length: ").encode()
    offset = random.Random(prefix).randrange(len(corpus))

    async def client(cid: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        head = head_for(cid)
        seq = 0
        try:
            while not stop.is_set():
                if run.batch_size == 1:
                    ids = [f"{prefix}{cid:02d}-{seq:08d}"]
                    body = corpus.body(ids[0], offset + cid * 7919 + seq)
                else:
                    ids = [f"{prefix}{cid:02d}-{seq:08d}-{i:05d}" for i in range(run.batch_size)]
                    body = corpus.batch(ids, offset + (cid * 1_000_003 + seq) * run.batch_size)
                seq += 1
                request = head + str(len(body)).encode() + b"\r\n\r\n" + body
                began = time.perf_counter_ns()
                try:
                    status, payload, close = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError) as exc:
                    run.errors[f"connection: {type(exc).__name__}"] += 1
                    run.unknown.extend(ids)
                    writer.close()
                    await asyncio.sleep(0.05)
                    reader, writer = await asyncio.open_connection(HOST, port)
                    continue
                elapsed = time.perf_counter_ns() - began
                if 200 <= status < 300:
                    receipts = [_one_receipt.decode(payload)] if run.batch_size == 1 else \
                        _many_receipts.decode(payload)
                    run.requests_ok += 1
                    run.tx_acked += len(receipts)
                    run.latencies_ns.append(elapsed)
                    for receipt in receipts:
                        run.acked[receipt.transaction_id] = receipt.position
                        run.duplicates += receipt.status != "accepted"
                else:
                    run.errors[f"HTTP {status}"] += 1
                    run.unknown.extend(ids)
                    if len(run.error_samples) < 5:
                        run.error_samples.append(f"{status}: {payload[:300].decode(errors='replace')}")
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    began = time.perf_counter()
    tasks = [asyncio.create_task(client(cid)) for cid in range(run.clients)]
    while (now := time.perf_counter() - began) < seconds and not all(t.done() for t in tasks):
        if on_tick is not None:
            on_tick(now, run)
        await asyncio.sleep(min(0.25, max(0.0, seconds - now)))
    stop.set()  # each client finishes the request it has in flight, so every request has an answer
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    run.seconds = time.perf_counter() - began
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            run.errors[f"client crashed: {type(outcome).__name__}: {outcome}"] += 1
    return run


def timed_load(server_pid: int, port: int, corpus: Corpus, run: LoadRun, prefix: str, seconds: float,
               on_tick: Callable[[float, LoadRun], None] | None = None,
               postgres_database: str | None = None) -> LoadRun:
    """`run_load`, with the cores used meanwhile (client, server tree, Postgres, other) in `run.cpu`."""
    before = CpuSnapshot.take(server_pid, postgres_database)
    asyncio.run(run_load(port, corpus, run, prefix, seconds, on_tick))
    run.cpu = CpuSnapshot.take(server_pid, postgres_database).usage_since(before)
    return run
