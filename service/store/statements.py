"""Questions of the log that both backends ask, each defined once, in SQLAlchemy.

Each takes the part that the backends spell differently, which values a column must be one of
(`SqlSpelling.one_of`), as a finished criterion. SQLite runs the statement as SQLAlchemy builds it; Postgres
compiles it once, with one bound array, and sends it to the driver in its pipelines (`fraudlog.store.postgres`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fraudlog.domain.events import EVENT_TRANSACTION, SUPPRESSION_EVENT_TYPES
from fraudlog.store.tables import events, json_text


def transactions_at(at_positions: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """(position, recorded_at, payload as JSON text) of the transaction events at the positions, by position."""
    return (sa.select(events.c.position, events.c.recorded_at, json_text(events.c.payload))
            .where(at_positions, events.c.event_type == EVENT_TRANSACTION)
            .order_by(events.c.position))


def suppressions_at(at_positions: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """(event type, position, payload as JSON text) of the suppression events of the cards of the transactions at
    the positions, by position: read with the batch, in its round trip, however rarely it finds one."""
    batch_cards = sa.select(events.c.card_id).where(at_positions, events.c.event_type == EVENT_TRANSACTION,
                                                    events.c.card_id.isnot(None))
    return (sa.select(events.c.event_type, events.c.position, json_text(events.c.payload))
            .where(events.c.event_type.in_(SUPPRESSION_EVENT_TYPES), events.c.card_id.in_(batch_cards))
            .order_by(events.c.position))


def known_transactions(with_ids: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """(transaction_id, digest, position) of the transaction events with the ids: what an append checks."""
    return sa.select(events.c.transaction_id, events.c.digest, events.c.position).where(
        events.c.event_type == EVENT_TRANSACTION, with_ids)
