"""`fraudlog replay --model-version V`: how V would have done on a range, beside what the champions did.

V scores every transaction of the range from the log (features recomputed, artifact verified); its ROC AUC
is computed from raw scores on the labels known now (the latest label event of each transaction, however
late it came), its alerts are the scores at or above its threshold. The champions' side comes from what
is stored: their scores for the same transactions and the alerts the outbox actually holds. Read-only.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

from sqlalchemy.engine import Engine

from fraudlog.ml.metrics import roc_auc
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.check import Progress, Range, resolve_range
from fraudlog.replay.chunks import CHUNK, transaction_chunks
from fraudlog.replay.collect import collected_per_chunk
from fraudlog.replay.history import FeatureWalk
from fraudlog.replay.recompute import score_with
from fraudlog.store.event_log import last_position
from fraudlog.store.labels import effective_labels
from fraudlog.store.outbox import alerts_by_version
from fraudlog.store.predictions import stored_predictions
from fraudlog.store.roles import assignment_table
from fraudlog.store.snapshot import read_only_snapshot


class SideFigures(TypedDict):
    """One model's figures on a backtest's range: what `fraudlog backtest` shows in a row."""

    predictions: int
    labels: int
    frauds: int
    roc_auc: float | None
    alerts: int
    alert_rate: float | None


# `BacktestReport.to_dict`: what `fraudlog backtest --json` prints ("from" is a keyword: the functional form).
BacktestDocument = TypedDict("BacktestDocument", {
    "model_version": int, "threshold": float, "from": int, "to": int, "transactions": int,
    "backtest": SideFigures, "champions": SideFigures, "per_champion": dict[str, SideFigures],
    "in_training_range": int, "seconds": float})


@dataclass
class Side:
    """One model's record on the range: scores, labels and alerts."""

    predictions: int = 0
    alerts: int = 0
    labelled: list[tuple[float, bool]] = field(default_factory=list)  # only labelled events are kept

    def add(self, score: float, threshold: float, label: bool | None) -> None:
        self.predictions += 1
        self.alerts += score >= threshold
        if label is not None:
            self.labelled.append((score, label))

    def to_dict(self) -> SideFigures:
        scores, truths = [s for s, _ in self.labelled], [y for _, y in self.labelled]
        return {"predictions": self.predictions, "labels": len(truths), "frauds": sum(truths),
                "roc_auc": roc_auc(scores, truths) if truths else None, "alerts": self.alerts,
                "alert_rate": self.alerts / self.predictions if self.predictions else None}


@dataclass(frozen=True)
class BacktestReport:
    version: int
    threshold: float
    span: Range
    candidate: SideFigures
    champions: SideFigures  # all champions of the range together
    per_champion: dict[int, SideFigures]
    in_training_range: int  # events of the range that V learned from: its figures there are optimistic
    seconds: float

    def to_dict(self) -> BacktestDocument:
        return {"model_version": self.version, "threshold": self.threshold, "from": self.span.start,
                "to": self.span.stop, "transactions": self.span.transactions, "backtest": self.candidate,
                "champions": self.champions, "per_champion": {str(v): s for v, s in self.per_champion.items()},
                "in_training_range": self.in_training_range, "seconds": round(self.seconds, 3)}


def backtest(engine: Engine, registry: ModelRegistry, version: int, *, start: int | None = None,
             stop: int | None = None, chunk: int = CHUNK, progress: Progress | None = None,
             on_range: Callable[[Range], None] | None = None) -> BacktestReport:
    """Score every transaction of [start, stop] with `version` and set its record beside the champions'."""
    began = time.perf_counter()
    loaded = registry.load(version)  # refuses an unknown version or an artifact that does not verify
    trained = _training_range(registry, version)
    candidate = Side()
    champions: defaultdict[int, Side] = defaultdict(Side)
    overlap = 0
    with read_only_snapshot(engine) as conn, collected_per_chunk() as after_chunk:
        if start is None:
            # From the first transaction a champion could score: what comes before is imported history,
            # which no champion served and on which the versions trained.
            first = assignment_table(conn, last_position(conn)).first_champion_position
            start = None if first is None else first + 1
        span = resolve_range(conn, start, stop)
        if on_range is not None:
            on_range(span)
        walk = FeatureWalk(conn, span.start)
        lower = span.start - 1
        for targets in transaction_chunks(conn, span.start, span.stop, chunk):
            features = walk.features(conn, targets, loaded.spec.categories)
            labels = effective_labels(conn, transaction_ids=[t.transaction_id for t in targets])
            for tx in targets:
                scored = score_with(registry, version, tx, features[tx.position], champion=False,
                                    categories=loaded.spec.categories)
                candidate.add(scored.score, loaded.threshold, labels.get(tx.transaction_id))
                overlap += trained is not None and trained[0] <= tx.position <= trained[1]
            upper = targets[-1].position
            for served in stored_predictions(conn, lower, upper, champions_only=True):
                champions[served.model_version].add(served.score, served.threshold,
                                                    labels.get(served.transaction_id))
            lower = upper
            after_chunk()
            if progress is not None:
                progress(len(targets))
        outbox = alerts_by_version(conn, span.start, span.stop)
    return BacktestReport(version, loaded.threshold, span, candidate.to_dict(), *_champion_figures(champions, outbox),
                          overlap, time.perf_counter() - began)


def _champion_figures(sides: dict[int, Side], outbox: dict[int, int],
                      ) -> tuple[SideFigures, dict[int, SideFigures]]:
    """The champions' figures, with alerts counted from the outbox: what was actually raised."""
    together = Side()
    per_version: dict[int, SideFigures] = {}
    for version, side in sorted(sides.items()):
        together.predictions += side.predictions
        together.labelled += side.labelled
        per_version[version] = _with_alerts(side, outbox.get(version, 0))
    return _with_alerts(together, sum(outbox.values())), per_version


def _with_alerts(side: Side, alerts: int) -> SideFigures:
    rate = alerts / side.predictions if side.predictions else None
    return {**side.to_dict(), "alerts": alerts, "alert_rate": rate}


def _training_range(registry: ModelRegistry, version: int) -> tuple[int, int] | None:
    data = registry.get(version).training_data
    first, last = data.first_position, data.last_position
    return None if first is None or last is None else (first, last)
