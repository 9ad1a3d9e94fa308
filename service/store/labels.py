"""Labels: the effective verdict per transaction, read from the log, and its projection kept beside the log.

A label may come hours after its transaction, from several sources that disagree (a customer's answer, an
analyst's review, a chargeback), and a source may correct itself. The effective label of a transaction is
the one the precedence rule picks among its label-giving events (`label` and `alert_outcome`):
the highest-ranked source, then the latest position (`fraudlog.domain.label_sources`). `effective_labels`
asks the log that question, bounded by position when a reader must not see the future (retraining) or by
transaction when it needs a few (backtest, the append's duplicate check). The `labels` table is the same
answer kept up to date by every append (`project_labels`), for the reads that need it fast (metrics, the
transaction view).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import LABEL_EVENT_TYPES, NewEvent, parse_time
from fraudlog.domain.label_sources import RANK, effective_key, source_of
from fraudlog.domain.records import LabelRow
from fraudlog.store.backend import backend_for
from fraudlog.store.tables import events, labels

# Ids per IN (...) list: well under every backend's limit on bound parameters.
LOOKUP_CHUNK = 5_000


class Verdict(NamedTuple):
    """The effective label of a transaction, its source and the log position of the event that gave it."""

    is_fraud: bool
    position: int
    source: str

    def key(self) -> tuple[int, int]:
        return effective_key(self.source, self.position)


def effective_verdicts(conn: Connection, *, through: int | None = None,
                       transaction_ids: Collection[str] | None = None) -> dict[str, Verdict]:
    """The effective label per transaction among the label-giving events at positions <= `through` (None: all)
    and for `transaction_ids` (None: every labelled transaction)."""
    found: dict[str, Verdict] = {}
    for stmt in _label_statements(through, transaction_ids):
        for tx, payload, pos in conn.execute(stmt):
            verdict = Verdict(bool(payload["is_fraud"]), int(pos), source_of(payload.get("source")))
            held = found.get(tx)
            if held is None or verdict.key() > held.key():
                found[tx] = verdict
    return found


def effective_labels(conn: Connection, *, through: int | None = None,
                     transaction_ids: Collection[str] | None = None) -> dict[str, bool]:
    """The effective verdict per transaction: `effective_verdicts` without positions and sources."""
    return {tx: verdict.is_fraud
            for tx, verdict in effective_verdicts(conn, through=through, transaction_ids=transaction_ids).items()}


def _label_statements(through: int | None, transaction_ids: Collection[str] | None) -> Iterator[sa.Select[Any]]:
    stmt = (sa.select(events.c.transaction_id, events.c.payload, events.c.position)
            .where(events.c.event_type.in_(LABEL_EVENT_TYPES)).order_by(events.c.position))
    if through is not None:
        stmt = stmt.where(events.c.position <= through)
    if transaction_ids is None:
        yield stmt
        return
    ids = sorted(set(transaction_ids))
    for begin in range(0, len(ids), LOOKUP_CHUNK):
        yield stmt.where(events.c.transaction_id.in_(ids[begin:begin + LOOKUP_CHUNK]))


def project_labels(conn: Connection, appended: Sequence[tuple[NewEvent, int]]) -> None:
    """Upsert the effective label per transaction (the precedence rule); a changed verdict counts as a correction.

    Runs in the append's own transaction, so the projection never lags the log it was built from. A label
    that the rule ranks below the stored one leaves the row as it is: it is kept in the log, not effective.
    """
    best: dict[str, tuple[NewEvent, int]] = {}
    for event, position in appended:
        if not event.transaction_id:
            continue
        held = best.get(event.transaction_id)
        if held is None or _key(event, position) > _key(*held):
            best[event.transaction_id] = (event, position)
    if not best:
        return
    rows = [
        {"transaction_id": tx, "is_fraud": bool(event.payload["is_fraud"]),
         "labeled_at": parse_time(event.payload["labeled_at"]), "position": position, "corrections": 0,
         "source": source_of(event.payload.get("source"))}
        for tx, (event, position) in best.items()
    ]
    stmt = backend_for(conn).insert(labels)
    changed = sa.case((labels.c.is_fraud != stmt.excluded.is_fraud, 1), else_=0)
    new_rank, held_rank = _rank(stmt.excluded.source), _rank(labels.c.source)
    stmt = stmt.on_conflict_do_update(
        index_elements=[labels.c.transaction_id],
        set_={"is_fraud": stmt.excluded.is_fraud, "labeled_at": stmt.excluded.labeled_at,
              "position": stmt.excluded.position, "source": stmt.excluded.source,
              "corrections": labels.c.corrections + changed},
        where=sa.or_(new_rank > held_rank,
                     sa.and_(new_rank == held_rank, stmt.excluded.position > labels.c.position)),
    )
    conn.execute(stmt, rows)


def _key(event: NewEvent, position: int) -> tuple[int, int]:
    return effective_key(event.payload.get("source"), position)


def _rank(source: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """`RANK` in SQL, so the upsert applies the same rule as `effective_verdicts`."""
    return sa.case(*((source == name, rank) for name, rank in RANK.items()), else_=0)


def label_for(engine: Engine, transaction_id: str) -> LabelRow | None:
    """The projected label of one transaction (its `labels` row), or None when it has none."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(labels).where(labels.c.transaction_id == transaction_id)).first()
    return None if row is None else msgspec.convert(row, LabelRow, from_attributes=True)
