"""Labels: the latest verdict per transaction, read from the log, and its projection kept beside the log.

A label event may come hours after its transaction and may be corrected by a later one; the latest label
event of a transaction (by position) is its verdict. `latest_labels` asks the log that question, bounded by
position when a reader must not see the future (retraining) or by transaction when it needs a few
(backtest, the append's duplicate check). The `labels` table is the same answer kept up to date by every
append (`project_labels`), for the reads that need it fast (metrics, the transaction view).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.domain.events import EVENT_LABEL, NewEvent, parse_time
from service.domain.records import LabelRow
from service.store.backend import backend_for
from service.store.tables import events, labels

# Ids per IN (...) list: well under every backend's limit on bound parameters.
LOOKUP_CHUNK = 5_000


class Verdict(NamedTuple):
    """The latest label of a transaction and the log position of the event that gave it."""

    is_fraud: bool
    position: int


def latest_verdicts(conn: Connection, *, through: int | None = None,
                    transaction_ids: Collection[str] | None = None) -> dict[str, Verdict]:
    """The latest label event per transaction, among those at positions <= `through` (None: all) and for
    `transaction_ids` (None: every labelled transaction)."""
    found: dict[str, Verdict] = {}
    for stmt in _latest_statements(through, transaction_ids):
        found.update({tx: Verdict(bool(payload["is_fraud"]), int(pos)) for tx, payload, pos in conn.execute(stmt)})
    return found


def latest_labels(conn: Connection, *, through: int | None = None,
                  transaction_ids: Collection[str] | None = None) -> dict[str, bool]:
    """The latest verdict per transaction: `latest_verdicts` without the positions."""
    return {tx: verdict.is_fraud
            for tx, verdict in latest_verdicts(conn, through=through, transaction_ids=transaction_ids).items()}


def _latest_statements(through: int | None, transaction_ids: Collection[str] | None) -> Iterator[sa.Select[Any]]:
    # Ordered by position, so when a transaction has several labels the latest one is read last and wins.
    stmt = (sa.select(events.c.transaction_id, events.c.payload, events.c.position)
            .where(events.c.event_type == EVENT_LABEL).order_by(events.c.position))
    if through is not None:
        stmt = stmt.where(events.c.position <= through)
    if transaction_ids is None:
        yield stmt
        return
    ids = sorted(set(transaction_ids))
    for begin in range(0, len(ids), LOOKUP_CHUNK):
        yield stmt.where(events.c.transaction_id.in_(ids[begin:begin + LOOKUP_CHUNK]))


def project_labels(conn: Connection, appended: Sequence[tuple[NewEvent, int]]) -> None:
    """Upsert the latest label per transaction; a changed verdict counts as a correction.

    Runs in the append's own transaction, so the projection never lags the log it was built from.
    """
    latest: dict[str, tuple[NewEvent, int]] = {}
    for event, position in sorted(appended, key=lambda pair: pair[1]):
        if event.transaction_id:
            latest[event.transaction_id] = (event, position)
    if not latest:
        return
    rows = [
        {"transaction_id": tx, "is_fraud": bool(event.payload["is_fraud"]),
         "labeled_at": parse_time(event.payload["labeled_at"]), "position": position, "corrections": 0}
        for tx, (event, position) in latest.items()
    ]
    stmt = backend_for(conn).insert(labels)
    changed = sa.case((labels.c.is_fraud != stmt.excluded.is_fraud, 1), else_=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[labels.c.transaction_id],
        set_={"is_fraud": stmt.excluded.is_fraud, "labeled_at": stmt.excluded.labeled_at,
              "position": stmt.excluded.position, "corrections": labels.c.corrections + changed},
        where=stmt.excluded.position > labels.c.position,
    )
    conn.execute(stmt, rows)


def label_for(engine: Engine, transaction_id: str) -> LabelRow | None:
    """The projected label of one transaction (its `labels` row), or None when it has none."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(labels).where(labels.c.transaction_id == transaction_id)).first()
    return None if row is None else msgspec.convert(row, LabelRow, from_attributes=True)
