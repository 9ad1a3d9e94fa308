"""The card history that features need: one query, shared by scoring, on-demand scoring, retraining, replay
and rebuild, so every one of them computes features from exactly the same rows (invariant 3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.features import HistoryQuery, TxView
from fraudlog.store.backend import backend_for
from fraudlog.store.tables import events


def _history_statement(conn: Connection, query: HistoryQuery, before: int, categories: Sequence[str],
                       ) -> sa.Select[Any]:
    # Card features read only a history event's card, time, amount and categorical attributes, so only those
    # are fetched: decoding whole payloads (dozens of attributes each) was the largest cost of scoring a batch.
    # A category comes back as a JSON value (text, a number or None), so a number under a category's name is
    # told from text alike on both backends.
    backend = backend_for(conn)
    return sa.select(events.c.position, events.c.transaction_id, events.c.card_id,
                     backend.utc_times(events.c.event_time), events.c.payload["amount"].as_float(),
                     *backend.json_values_at(events.c.payload, "attributes", categories)).where(
        events.c.event_type == EVENT_TRANSACTION,
        backend.one_of(events.c.card_id, sorted(query.card_ids), sa.Text()),
        events.c.event_time > query.since,
        events.c.position < before,
    )


def fetch_history(conn: Connection, query: HistoryQuery, *, before: int | None = None,
                  categories: Sequence[str] = ()) -> list[TxView]:
    """The history a batch of targets needs (`HistoryQuery`), in one query, not one per event.

    `before` (a position) narrows it further: a walk that computes features of consecutive targets passes
    its first target, since `batch_features` counts the targets as history of later targets itself and
    fetching them again would be wasted. The views carry only the text values of `categories`: history
    needs no other attribute.
    """
    limit = query.before_position if before is None else min(before, query.before_position)
    names = tuple(categories)
    statement = _history_statement(conn, query, limit, names)
    rows = conn.execute(statement).all()  # fetchall: far cheaper than row by row
    if not names:  # no category to carry: no call per row
        return [TxView(position, tx, card, moment, amount, {}) for position, tx, card, moment, amount in rows]
    return [TxView(position, tx, card, moment, amount, _texts(names, values))
            for position, tx, card, moment, amount, *values in rows]


def _texts(names: tuple[str, ...], values: Sequence[Any]) -> dict[str, float | str]:
    return {name: value for name, value in zip(names, values, strict=True) if isinstance(value, str)}


def latest_event_time_before(conn: Connection, position: int) -> datetime | None:
    """The latest event time of the transactions before `position` (None when there are none): a walk that
    starts at `position` has no history before it for an event whose window starts after this."""
    if position <= 1:
        return None
    stmt = sa.select(sa.func.max(events.c.event_time)).where(
        events.c.event_type == EVENT_TRANSACTION, events.c.position < position)
    value: datetime | None = conn.execute(stmt).scalar()
    return value
