"""Turning validated request items into log events and answering with receipts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from litestar import Response

from service.api.problems import INVALID_BODY, TRANSACTION_CONFLICT, Problem
from service.api.schemas import IngestReceipt
from service.domain.events import LabelIn, NewEvent, TransactionIn, label_event, transaction_event
from service.domain.validation import FieldError
from service.store.event_log import UnitOutcome
from service.store.group_commit import GroupCommitter


def transaction_events(items: Sequence[TransactionIn]) -> list[NewEvent]:
    """Events for a batch; an id repeated inside it with a different body is the client's error (422)."""
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
        raise Problem(INVALID_BODY, "a batch repeats an id with different bodies", errors=errors)
    return events


def label_events(items: Sequence[LabelIn]) -> list[NewEvent]:
    received_at = datetime.now(UTC)
    return [label_event(label, received_at) for label in items]


async def append(committer: GroupCommitter, kind: str, events: list[NewEvent]) -> UnitOutcome:
    return await committer.append(kind, events)


def receipts_response(outcome: UnitOutcome, as_array: bool, ids: list[str],
                      ) -> Response[IngestReceipt | list[IngestReceipt]]:
    """202 when anything new was stored, 200 when all of it was already there, 409 on a conflict."""
    if outcome.conflicts:
        errors = [FieldError(f"/{i}/transaction_id" if as_array else "/transaction_id",
                             f"{tx!r} was already recorded with a different body")
                  for i, tx in enumerate(ids) if tx in set(outcome.conflicts)]
        raise Problem(TRANSACTION_CONFLICT,
                      "the same transaction_id was sent before with a different body; nothing was stored",
                      errors=errors)
    status = 202 if any(r.status != "duplicate" for r in outcome.receipts) else 200
    receipts = msgspec.convert(outcome.receipts, list[IngestReceipt], from_attributes=True)
    content: list[IngestReceipt] | IngestReceipt = receipts if as_array else receipts[0]
    return Response(content, status_code=status)
