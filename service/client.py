"""A streaming client: post transactions to a running fraudlog, and their labels some time later.

Used by `fraudlog simulate` (any deployment) and `fraudlog demo` (the embedded one).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from service.domain.events import format_time

Row = tuple[dict[str, Any], bool]


@dataclass
class StreamReport:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    labels: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


class FraudlogClient:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, body: Any) -> list[dict[str, Any]]:
        for attempt in range(5):  # ingest is idempotent, so a retry after a lost answer is safe
            try:
                response = self.http.post(path, json=body)
            except httpx.TransportError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code in (200, 202):
                result = response.json()
                return result if isinstance(result, list) else [result]
            if response.status_code in (429, 503) and attempt < 4:
                time.sleep(float(response.headers.get("Retry-After", 0.5)))
                continue
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
        raise RuntimeError(f"POST {path} kept failing")

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()


def stream(client: FraudlogClient, rows: Iterable[Row], *, batch_size: int = 500, rate: float | None = None,
           label_delay_seconds: float | None = None, label_delay_events: int | None = None,
           restamp: bool = False, progress: Callable[[int], None] | None = None) -> StreamReport:
    """Post `rows` in batches (at most `rate` per second when given); post each label once it is due:
    `label_delay_events` transactions later, or `label_delay_seconds` later; all remaining at the end.

    With `restamp`, each transaction's event_time becomes the moment it is sent, for replaying a file
    whose own times are arbitrary, so event-to-prediction latency means what it says."""
    report = StreamReport()
    pending: collections.deque[tuple[float, int, dict[str, Any]]] = collections.deque()
    started = time.monotonic()
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            _send(client, batch, report, pending, started, progress, restamp)
            batch = []
            _pace(report.sent, rate, started)
            _post_due_labels(client, pending, report, label_delay_seconds, label_delay_events, started)
    if batch:
        _send(client, batch, report, pending, started, progress, restamp)
    _post_due_labels(client, pending, report, 0.0, None, started, everything=True)
    report.seconds = time.monotonic() - started
    return report


def _send(client: FraudlogClient, batch: list[Row], report: StreamReport,
          pending: collections.deque[tuple[float, int, dict[str, Any]]], started: float,
          progress: Callable[[int], None] | None, restamp: bool) -> None:
    if restamp:
        sent_at = format_time(datetime.now(UTC))
        batch = [({**body, "event_time": sent_at}, is_fraud) for body, is_fraud in batch]
    receipts = client.post("/v1/transactions", [body for body, _ in batch])
    report.sent += len(batch)
    report.accepted += sum(r["status"] == "accepted" for r in receipts)
    report.duplicates += sum(r["status"] == "duplicate" for r in receipts)
    now = time.monotonic() - started
    for body, is_fraud in batch:
        pending.append((now, report.sent, {"transaction_id": body["transaction_id"], "is_fraud": is_fraud}))
    if progress:
        progress(len(batch))


def _pace(sent: int, rate: float | None, started: float) -> None:
    if rate:
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


def _post_due_labels(client: FraudlogClient, pending: collections.deque[tuple[float, int, dict[str, Any]]],
                     report: StreamReport, delay_seconds: float | None, delay_events: int | None, started: float,
                     everything: bool = False) -> None:
    now = time.monotonic() - started
    due: list[dict[str, Any]] = []
    while pending and (everything or _is_due(pending[0], now, report.sent, delay_seconds, delay_events)):
        due.append(pending.popleft()[2])
    for start in range(0, len(due), 5_000):
        client.post("/v1/labels", due[start : start + 5_000])
    report.labels += len(due)


def _is_due(item: tuple[float, int, dict[str, Any]], now: float, sent: int, delay_seconds: float | None,
            delay_events: int | None) -> bool:
    queued_at, sent_then, _ = item
    if delay_events is not None:
        return sent - sent_then >= delay_events
    return delay_seconds is not None and now - queued_at >= delay_seconds
