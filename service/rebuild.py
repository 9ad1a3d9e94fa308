"""`fraudlog rebuild --into URL`: lose every table but the log, and everything comes back (DESIGN invariant 1).

An empty database (SQLite or Postgres, either way round) receives a copy of the log, event for event (same
positions, payloads and recorded_at), and of the model version rows, which are immutable artifacts that no
log can re-derive. Every other table is then recomputed from the copied log alone, as it is copied:

- `labels`: the same projection the append runs (`project_labels`), fed the label events in the groups they
  were appended in. One append gives all its events one `recorded_at`, so a run of label events with equal
  `recorded_at` is one original append; that matters because a correction within one append is counted
  differently from one across two appends.
- `predictions`: the champion's and challengers' of every transaction, recomputed by replay's functions
  (features from the log, scores from the verified artifacts). `scored_at` is the rebuild's wall clock: when
  each row was really computed. The original scoring times are not in the log, so latency statistics of a
  rebuilt database describe the rebuild, not the original service.
- `alerts`: one per champion prediction at or above its threshold, with the same deterministic id
  (`alert_id_for`). Delivery state is not in the log, and a rebuilt alert must never reach a customer a
  second time, so each is written `sent` with `last_error` set to `REBUILT_MARKER`, `sent_at` NULL (when
  it was delivered is not known) and `created_at` equal to its prediction's `scored_at`, as the scorer
  does. The relay only claims `pending` rows, so none is sent again.

Model metrics and `/v1/stats` are computed from these tables on demand, so they come back with them.
Each chunk of events is one transaction on the target, with everything derived from it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.domain.assignment import AssignmentTable
from service.domain.features import TxView
from service.replay.collect import collected_per_chunk
from service.replay.history import FeatureWalk
from service.replay.reader import (
    decode_json,
    driver_errors,
    json_text,
    read_only_snapshot,
)
from service.replay.recompute import Recomputed, recompute, role_change
from service.store import migrate
from service.store.engine import create_engine, write_transaction
from service.store.errors import StoreError
from service.store.event_log import NewEvent
from service.store.labels import project_labels
from service.store.outbox import AGGREGATE_TYPE, EVENT_TYPE, SENT, alert_id_for, alert_payload
from service.store.predictions import insert_predictions
from service.store.registry import ModelRegistry
from service.store.tables import (
    EVENT_LABEL,
    EVENT_PROMOTION,
    EVENT_RETIREMENT,
    EVENT_TRANSACTION,
    alerts,
    events,
    labels,
    model_versions,
    predictions,
)

CHUNK = 1_000
REBUILT_MARKER = "rebuilt: delivery state not carried over"
COPIED_TABLES = ("events", "model_versions")  # the source of truth, and immutable artifacts
DERIVED_TABLES = ("labels", "predictions", "alerts")  # recomputed from the copied log

_EVENT_COLUMNS = (events.c.position, events.c.event_type, events.c.transaction_id, events.c.card_id,
                  events.c.event_time, events.c.recorded_at, events.c.digest)


class RebuildRefused(StoreError):
    """The target is not an empty fraudlog database, so rebuilding into it could mix two histories."""


@dataclass(frozen=True)
class RebuildReport:
    events: int
    transactions: int
    labels: int
    versions: int
    predictions: int
    alerts: int
    seconds: float


@dataclass
class _Counts:
    events: int = 0
    transactions: int = 0
    labels: int = 0
    predictions: int = 0
    alerts: int = 0


def rebuild(source: Engine, target_url: str, secret_key: bytes, *, chunk: int = CHUNK,
            progress: Callable[[int], None] | None = None,
            on_total: Callable[[int], None] | None = None) -> RebuildReport:
    """Copy the log and the version rows of `source` into the empty database at `target_url` and recompute
    every derived table there. `secret_key` must be the one the artifacts were signed with."""
    began = time.perf_counter()
    target = create_engine(target_url)
    try:
        with driver_errors():
            migrate.upgrade(target)
            _require_empty(target)
            versions = _copy_versions(source, target)
            counts = _copy_and_derive(source, target, ModelRegistry(target, secret_key), chunk, progress, on_total)
            _continue_positions_after_copy(target)
    finally:
        target.dispose()
    return RebuildReport(counts.events, counts.transactions, counts.labels, versions, counts.predictions,
                         counts.alerts, time.perf_counter() - began)


def _require_empty(target: Engine) -> None:
    with target.connect() as conn:
        filled = {table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                  for table in (events, model_versions, predictions, labels, alerts)}
    if any(filled.values()):
        rows = ", ".join(f"{name} {n:,}" for name, n in filled.items() if n)
        where = target.url.render_as_string(hide_password=True)
        raise RebuildRefused(f"{where} is not empty ({rows} rows); rebuild only into an empty database")


def _copy_versions(source: Engine, target: Engine) -> int:
    """Version rows in version order, so that each parent exists before its children."""
    with source.connect() as conn:
        rows = [dict(row) for row in conn.execute(
            sa.select(model_versions).order_by(model_versions.c.version)).mappings()]
    if rows:
        with write_transaction(target) as conn:
            conn.execute(sa.insert(model_versions), rows)
    return len(rows)


def _copy_and_derive(source: Engine, target: Engine, registry: ModelRegistry, chunk: int,
                     progress: Callable[[int], None] | None, on_total: Callable[[int], None] | None) -> _Counts:
    counts = _Counts()
    table = AssignmentTable()
    with read_only_snapshot(source) as reader, collected_per_chunk() as after_chunk:
        if on_total is not None:
            on_total(int(reader.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()))
        with target.connect() as conn:
            walk = FeatureWalk(conn, 1)
        for rows in _event_chunks(reader, chunk):
            with write_transaction(target) as conn:
                _append_chunk(conn, registry, table, walk, rows, counts)
            after_chunk()
            if progress is not None:
                progress(len(rows))
    return counts


def _event_chunks(conn: Connection, size: int) -> Iterator[list[dict[str, Any]]]:
    """Every event of the log in position order, as rows ready to insert, about `size` at a time."""
    stmt = (sa.select(*_EVENT_COLUMNS, json_text(events.c.payload).label("payload"))
            .order_by(events.c.position).execution_options(stream_results=True, yield_per=size))
    batch: list[dict[str, Any]] = []
    for row in conn.execute(stmt).mappings():
        if len(batch) >= size and not _same_label_append(batch[-1], row):
            yield batch
            batch = []
        batch.append({**row, "payload": decode_json(row["payload"])})
    if batch:
        yield batch


def _same_label_append(previous: Any, row: Any) -> bool:
    """Whether two label events were appended together (an append gives its events one recorded_at): the
    labels projection must see each append whole, so a chunk never ends inside one."""
    return previous["event_type"] == row["event_type"] == EVENT_LABEL and previous["recorded_at"] == row["recorded_at"]


def _append_chunk(conn: Connection, registry: ModelRegistry, table: AssignmentTable, walk: FeatureWalk,
                  rows: list[dict[str, Any]], counts: _Counts) -> None:
    """Insert one chunk of events and everything derived from them, in the caller's transaction."""
    conn.execute(sa.insert(events), rows)
    label_rows = [row for row in rows if row["event_type"] == EVENT_LABEL]
    for _, group in itertools.groupby(label_rows, key=lambda row: row["recorded_at"]):
        project_labels(conn, [(_new_event(row), row["position"]) for row in group])
    table.extend((role_change(row["position"], row["payload"]) for row in rows
                  if row["event_type"] in (EVENT_PROMOTION, EVENT_RETIREMENT)), known_through=rows[-1]["position"])
    transactions = [row for row in rows if row["event_type"] == EVENT_TRANSACTION]
    if transactions:
        views = [TxView.from_payload(row["position"], row["payload"]) for row in transactions]
        scored = recompute(registry, table, views, walk.features(conn, views))
        counts.predictions += len(scored)
        counts.alerts += _insert_scores(conn, scored, {tx.position: tx for tx in views},
                                        {row["position"]: row["recorded_at"] for row in transactions})
    counts.events += len(rows)
    counts.transactions += len(transactions)
    counts.labels += len(label_rows)


def _insert_scores(conn: Connection, scored: Sequence[Recomputed], views: dict[int, TxView],
                   recorded: dict[int, datetime]) -> int:
    """Insert the predictions and the alerts the champions raise; returns the number of alerts."""
    scored_at = datetime.now(UTC)
    insert_predictions(conn, [
        {"transaction_id": p.transaction_id, "model_version": p.model_version, "position": p.position,
         "champion": p.champion, "score": p.score, "threshold": p.threshold, "features": p.features,
         "event_time": views[p.position].event_time, "recorded_at": recorded[p.position], "scored_at": scored_at}
        for p in scored])
    raised = [_alert_row(p, views[p.position], scored_at) for p in scored if p.champion and p.score >= p.threshold]
    if raised:
        conn.execute(sa.insert(alerts), raised)
    return len(raised)


def _alert_row(prediction: Recomputed, tx: TxView, created_at: datetime) -> dict[str, Any]:
    payload = alert_payload(transaction_id=tx.transaction_id, card_id=tx.card_id, score=prediction.score,
                            threshold=prediction.threshold, model_version=prediction.model_version,
                            created_at=created_at)
    return {"id": alert_id_for(tx.transaction_id), "aggregatetype": AGGREGATE_TYPE, "aggregateid": tx.transaction_id,
            "type": EVENT_TYPE, "payload": payload, "transaction_id": tx.transaction_id, "card_id": tx.card_id,
            "score": payload["score"], "threshold": payload["threshold"], "model_version": prediction.model_version,
            "position": prediction.position, "created_at": created_at, "status": SENT, "attempts": 0,
            "available_at": created_at, "sent_at": None, "last_error": REBUILT_MARKER}


def _new_event(row: dict[str, Any]) -> NewEvent:
    return NewEvent(row["event_type"], row["transaction_id"], row["card_id"], row["event_time"], row["digest"],
                    row["payload"])


def _continue_positions_after_copy(target: Engine) -> None:
    """Positions were inserted explicitly, so Postgres' identity sequence has not moved: point it past the
    copied log, or the next append would collide with position 1. SQLite continues after the largest rowid."""
    if target.dialect.name != "postgresql":
        return
    with write_transaction(target) as conn:
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('events', 'position'), "
                             "(SELECT max(position) FROM events)) WHERE EXISTS (SELECT 1 FROM events)")
