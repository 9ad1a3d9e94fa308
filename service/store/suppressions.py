"""Suppressions in the log: appending their events, and reading them back for the scorer, rebuild and the API."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import (
    SUPPRESSION_EVENT_TYPES,
    Receipt,
    SuppressionAdded,
    SuppressionEnded,
    from_row,
    parse_time,
    to_row,
)
from fraudlog.domain.records import RaisedAlert
from fraudlog.domain.suppressions import Suppression, hold_back, with_ends
from fraudlog.store.errors import driver_errors
from fraudlog.store.event_log import EventLog
from fraudlog.store.tables import events, json_text


class UnknownSuppression(LookupError):
    def __init__(self, card_id: str, suppression_id: str) -> None:
        super().__init__(f"card {card_id!r} has no suppression {suppression_id!r}")


def suppressions_of(conn: Connection, card_ids: Collection[str]) -> list[Suppression]:
    """Every suppression of these cards in the log, with the position of its end if it was ended."""
    if not card_ids:
        return []
    rows = conn.execute(sa.select(events.c.event_type, events.c.position, json_text(events.c.payload))
                        .where(events.c.event_type.in_(SUPPRESSION_EVENT_TYPES), events.c.card_id.in_(card_ids))
                        .order_by(events.c.position)).all()
    return suppressions_from_rows([tuple(row) for row in rows])


def suppressions_from_rows(rows: Sequence[tuple[str, int, str]]) -> list[Suppression]:
    """The suppressions that (event type, position, payload text) rows of their events describe."""
    started: list[Suppression] = []
    ends: dict[str, int] = {}
    for event_type, position, payload in rows:
        event = from_row(event_type, payload)
        if isinstance(event, SuppressionAdded):
            started.append(Suppression(event.suppression_id, event.card_id, int(position), parse_time(event.until),
                                       event.reason, event.actor))
        elif isinstance(event, SuppressionEnded):
            ends.setdefault(event.suppression_id, int(position))
    return with_ends(started, ends)


def card_suppressions(engine: Engine, card_id: str) -> list[Suppression]:
    with driver_errors(), engine.connect() as conn:
        return suppressions_of(conn, [card_id])


def append_suppression(engine: Engine, added: SuppressionAdded, now: datetime | None = None) -> Receipt:
    """Append a suppression; the same suppression again (a retry) is a duplicate pointing at the first."""
    return EventLog(engine).append_unique(to_row(added, now or datetime.now(UTC)))


def end_suppression(engine: Engine, ended: SuppressionEnded, now: datetime | None = None) -> Receipt:
    """Append the early end of a suppression of this card; ending it again is a duplicate of the first end."""
    if ended.suppression_id not in {s.suppression_id for s in card_suppressions(engine, ended.card_id)}:
        raise UnknownSuppression(ended.card_id, ended.suppression_id)
    return EventLog(engine).append_unique(to_row(ended, now or datetime.now(UTC)))


def held_back(conn: Connection, alerts: list[RaisedAlert], event_times: Mapping[str, datetime],
              ) -> tuple[list[RaisedAlert], dict[str, str]]:
    """`hold_back` with the suppressions of the alerts' cards read from the log (rebuild's way; the scorer reads
    them with its batch)."""
    cards = {alert["card_id"] for alert in alerts if alert["card_id"] is not None}
    return hold_back(suppressions_of(conn, cards), alerts, event_times)
