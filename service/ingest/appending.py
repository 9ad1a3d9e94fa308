"""What a batch of validated items becomes in the log, appended through the group committer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fraudlog.domain.events import LabelIn, NewEvent, TransactionIn, label_event, transaction_event
from fraudlog.domain.validation import FieldError, Limits
from fraudlog.ingest.group_commit import LABELS, TRANSACTIONS, GroupCommitter
from fraudlog.store.event_log import UnitOutcome

__all__ = ["Ingest", "RepeatedWithDifferentBody", "UnitOutcome", "label_events", "transaction_events"]


class RepeatedWithDifferentBody(ValueError):
    """A batch names one transaction id twice with different bodies: the client's error, nothing is stored."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("a batch repeats an id with different bodies")
        self.errors = errors


def transaction_events(items: Sequence[TransactionIn]) -> list[NewEvent]:
    """Events for a batch; an id repeated inside it with a different body is refused whole."""
    events: list[NewEvent] = []
    seen: dict[str, str] = {}
    errors: list[FieldError] = []
    for index, tx in enumerate(items):
        event = transaction_event(tx)
        if seen.setdefault(tx.transaction_id, event.digest) != event.digest:
            errors.append(FieldError(f"/{index}/transaction_id",
                                     f"{tx.transaction_id!r} appears earlier in this batch with a different body"))
        events.append(event)
    if errors:
        raise RepeatedWithDifferentBody(errors)
    return events


def label_events(items: Sequence[LabelIn]) -> list[NewEvent]:
    received_at = datetime.now(UTC)
    return [label_event(label, received_at) for label in items]


DEFAULT_LIMITS = Limits()


class Ingest:
    """Appends a batch as one unit (all or nothing) and answers once the commit holding it returned; `limits`
    and `max_batch_items` are what a posted body may hold (the handlers decode with them).

    The limits travel with the use case so that an ingest handler needs this one dependency: Litestar resolves
    two or more in an anyio task group per request (a tenth of a single POST's event-loop samples; 2-5 % of its CPU
    measured quietly, BENCHMARKS.md)."""

    def __init__(self, committer: GroupCommitter, *, limits: Limits = DEFAULT_LIMITS,
                 max_batch_items: int = 10_000) -> None:
        self.committer = committer
        self.limits = limits
        self.max_batch_items = max_batch_items

    async def append_transactions(self, items: Sequence[TransactionIn]) -> UnitOutcome:
        return await self.committer.append(TRANSACTIONS, transaction_events(items))

    async def append_labels(self, items: Sequence[LabelIn]) -> UnitOutcome:
        return await self.committer.append(LABELS, label_events(items))

    def close(self) -> None:
        self.committer.close()
