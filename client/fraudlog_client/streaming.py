"""A streamer of transactions with their labels arriving later: `stream` posts rows at a rate, each label some
time after its transaction (`fraudlog simulate` and `fraudlog demo` use it), through a sync `FraudlogClient`."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from fraudlog_client.bodies import LabelBody, LabelledTransaction, format_time
from fraudlog_client.client import FraudlogClient

# A transaction and whether it is a fraud, as `fraudlog.ml.datasets` reads them and `stream` sends them.
Row = LabelledTransaction


class _PendingLabel(NamedTuple):
    """A label `stream` holds until it is due: when and after how many transactions it was queued."""

    queued_at: float
    sent_then: int
    label: LabelBody


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


class Labeller(Protocol):
    """Who posts the labels while `stream` sends, in its own way (the demo's card business: `fraudlog demo`)."""

    def __call__(self, batch: Sequence[Row], sent: int) -> int:
        """`batch` was just posted, `sent` rows so far: post what is due now; how many labels and answers it posted."""
        ...


def stream(client: FraudlogClient, rows: Iterable[Row], *, batch_size: int = 500, rate: float | None = None,
           label_delay_seconds: float | None = None, label_delay_events: int | None = None,
           restamp: bool = False, progress: Callable[[int], None] | None = None,
           labeller: Labeller | None = None) -> StreamReport:
    """Post `rows` in batches (at most `rate` per second when given); post each label once it is due:
    `label_delay_events` transactions later, or `label_delay_seconds` later; all remaining at the end.
    A `labeller` instead decides and posts the labels itself after each batch, and what is left at the end.

    With `restamp`, each transaction's event_time becomes the moment it is sent, for replaying a file
    whose own times are arbitrary, so event-to-prediction latency means what it says."""
    report = StreamReport()
    pending: collections.deque[_PendingLabel] = collections.deque()
    started = time.monotonic()
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            _send(client, batch, report, pending, started, progress, restamp)
            _pace(report.sent, rate, started)
            if labeller is None:
                _post_due_labels(client, pending, report, label_delay_seconds, label_delay_events, started)
            else:
                report.labels += labeller(batch, report.sent)
            batch = []
    if batch:
        _send(client, batch, report, pending, started, progress, restamp)
        if labeller is not None:
            report.labels += labeller(batch, report.sent)
    if labeller is None:
        _post_due_labels(client, pending, report, 0.0, None, started, everything=True)
    report.seconds = time.monotonic() - started
    return report


def _send(client: FraudlogClient, batch: list[Row], report: StreamReport,
          pending: collections.deque[_PendingLabel], started: float,
          progress: Callable[[int], None] | None, restamp: bool) -> None:
    if restamp:
        sent_at = format_time(datetime.now(UTC))
        batch = [({**body, "event_time": sent_at}, is_fraud) for body, is_fraud in batch]
    receipts = client.post("/v1/transactions", [body for body, _ in batch])
    report.sent += len(batch)
    report.accepted += sum(r.status == "accepted" for r in receipts)
    report.duplicates += sum(r.status == "duplicate" for r in receipts)
    now = time.monotonic() - started
    for body, is_fraud in batch:
        label: LabelBody = {"transaction_id": body["transaction_id"], "is_fraud": is_fraud}
        pending.append(_PendingLabel(now, report.sent, label))
    if progress:
        progress(len(batch))


def _pace(sent: int, rate: float | None, started: float) -> None:
    if rate:
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


def _post_due_labels(client: FraudlogClient, pending: collections.deque[_PendingLabel],
                     report: StreamReport, delay_seconds: float | None, delay_events: int | None, started: float,
                     everything: bool = False) -> None:
    now = time.monotonic() - started
    due: list[LabelBody] = []
    while pending and (everything or _is_due(pending[0], now, report.sent, delay_seconds, delay_events)):
        due.append(pending.popleft().label)
    for start in range(0, len(due), 5_000):
        client.post("/v1/labels", due[start : start + 5_000])
    report.labels += len(due)


def _is_due(item: _PendingLabel, now: float, sent: int, delay_seconds: float | None,
            delay_events: int | None) -> bool:
    queued_at, sent_then, _ = item
    if delay_events is not None:
        return sent - sent_then >= delay_events
    return delay_seconds is not None and now - queued_at >= delay_seconds
