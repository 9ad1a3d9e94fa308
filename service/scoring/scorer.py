"""Score a batch of log positions: features from the log, every assigned version, one transaction.

This is the body of the `score` actor and of the embedded mode's worker threads. It is idempotent:
predictions are keyed (transaction, version) and inserted with ON CONFLICT DO NOTHING, and the alert row
is keyed by transaction, so a redelivered or swept batch changes nothing (invariants 5 and 6, docs/INVARIANTS.md).
Serving never learns: models are frozen versions loaded from the registry (invariant 4).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from service.domain.assignment import Assignment
from service.domain.events import EVENT_TRANSACTION
from service.domain.features import FeatureValues, TxView, batch_features, history_query
from service.ml.specs import score_one, union_categories
from service.store import outbox
from service.store.engine import write_transaction
from service.store.event_log import EventLog, EventRecord
from service.store.history import fetch_history
from service.store.predictions import existing_predictions, insert_predictions
from service.store.registry import ModelRegistry

log = logging.getLogger("fraudlog.scoring")


@dataclass(frozen=True)
class ScoreReport:
    events: int
    predictions: int
    alerts: int
    unassigned: int  # events with no champion: before the first promotion


class Scorer:
    def __init__(self, engine: Engine, registry: ModelRegistry) -> None:
        self.engine = engine
        self.registry = registry
        self.log = EventLog(engine)

    def score_positions(self, positions: Sequence[int]) -> ScoreReport:
        records = [r for r in self.log.read_positions(sorted(set(positions))) if r.event_type == EVENT_TRANSACTION]
        if not records:
            return ScoreReport(0, 0, 0, 0)
        table = self.registry.assignments(through=max(r.position for r in records))
        assigned = {r.position: table.assignment_at(r.position) for r in records}
        targets = [TxView.from_payload(r.position, r.payload) for r in records if assigned[r.position].champion]
        if not targets:
            return ScoreReport(len(records), 0, 0, len(records))
        with write_transaction(self.engine) as conn:
            done = existing_predictions(conn, [t.transaction_id for t in targets])
            todo = [t for t in targets if any((t.transaction_id, v) not in done
                                              for v in assigned[t.position].versions)]
            # Features once for every category some version of the batch reads; each version keeps its own.
            categories = union_categories(self.registry.load(version).spec
                                          for version in {v for t in todo for v in assigned[t.position].versions})
            query = history_query(todo)
            history = fetch_history(conn, query, categories=categories) if query else []
            features = batch_features(todo, history, categories)
            rows, alerts = self._predict({r.position: r for r in records}, todo, assigned, features, categories,
                                         done)
            insert_predictions(conn, rows)
            new_ids = outbox.insert_alerts(conn, alerts)
            created = [alert for alert in alerts if alert["transaction_id"] in new_ids]
        for alert in created:  # after the commit: these alerts exist
            log.info("alert created", extra={k: alert[k] for k in ("transaction_id", "model_version", "score",
                                                                   "threshold")})
        return ScoreReport(len(records), len(rows), len(created), len(records) - len(targets))

    def _predict(self, records: dict[int, EventRecord], todo: Sequence[TxView], assigned: dict[int, Assignment],
                 features: dict[int, FeatureValues], categories: Sequence[str], done: set[tuple[str, int]],
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        alerts: list[dict[str, Any]] = []
        for tx in todo:
            assignment = assigned[tx.position]
            for version in assignment.versions:
                if (tx.transaction_id, version) in done:
                    continue
                loaded = self.registry.load(version)
                started = time.perf_counter()
                own = loaded.spec.own_features(features[tx.position], categories)
                score = float(score_one(loaded.model, loaded.spec, own))
                scored_at = datetime.now(UTC)
                champion = version == assignment.champion
                record = records[tx.position]
                rows.append({"transaction_id": tx.transaction_id, "model_version": version,
                             "position": tx.position, "champion": champion, "score": score,
                             "threshold": loaded.threshold, "features": own,
                             "event_time": tx.event_time, "recorded_at": record.recorded_at,
                             "scored_at": scored_at})
                log.debug("scored", extra={"transaction_id": tx.transaction_id, "model_version": version,
                                           "score": score, "micros": (time.perf_counter() - started) * 1e6})
                if champion and score >= loaded.threshold:
                    alerts.append({"transaction_id": tx.transaction_id, "card_id": tx.card_id, "score": score,
                                   "threshold": loaded.threshold, "model_version": version, "position": tx.position,
                                   "created_at": scored_at})
        return rows, alerts
