"""`fraudlog replay`: walk the log and check that every stored prediction is what the log says it must be."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy.engine import Engine

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.ml.environment import Drift, differences
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.chunks import CHUNK, transaction_chunks
from fraudlog.replay.collect import collected_per_chunk
from fraudlog.replay.compare import DEFAULT_SHOWN, Difference, DifferenceDocument, Tally, compare_chunk
from fraudlog.replay.history import FeatureWalk
from fraudlog.replay.recompute import categories_scoring, recompute, with_suppressions
from fraudlog.store.event_log import count_by_type, last_position
from fraudlog.store.predictions import stored_predictions
from fraudlog.store.roles import assignment_table
from fraudlog.store.snapshot import read_only_snapshot
from fraudlog.store.suppressions import suppressions_of

Progress = Callable[[int], None]


# `ReplayReport.to_dict`: what `fraudlog replay --json` prints ("from" is a keyword: the functional form).
ReplayDocument = TypedDict("ReplayDocument", {
    "from": int, "to": int, "events": int, "transactions": int, "predictions_checked": int, "identical": int,
    "different": int, "missing": int, "unexpected": int, "reproduced": bool, "versions": list[int],
    "seconds": float, "environment": dict[str, Drift], "differences": list[DifferenceDocument]})


@dataclass(frozen=True)
class ReplayReport:
    start: int
    stop: int
    events: int  # every event in [start, stop]
    transactions: int
    checked: int
    identical: int
    different: int
    missing: int
    unexpected: int
    differences: list[Difference]  # the first ones, in full
    versions: list[int]  # the versions replay loaded and verified
    seconds: float
    # Per version, what differs from the environment that trained it: reported first, it explains differences.
    environment: dict[int, Drift] = field(default_factory=dict)

    @property
    def reproduced(self) -> bool:
        return self.different == self.missing == self.unexpected == 0

    def to_dict(self) -> ReplayDocument:
        return {"from": self.start, "to": self.stop, "events": self.events, "transactions": self.transactions,
                "predictions_checked": self.checked, "identical": self.identical, "different": self.different,
                "missing": self.missing, "unexpected": self.unexpected, "reproduced": self.reproduced,
                "versions": self.versions, "seconds": round(self.seconds, 3),
                "environment": {str(v): drift for v, drift in self.environment.items()},
                "differences": [d.to_dict() for d in self.differences]}


@dataclass(frozen=True)
class Range:
    start: int
    stop: int
    events: int
    transactions: int


def resolve_range(conn: Any, start: int | None, stop: int | None) -> Range:
    """[start, stop] clipped to the log, with its event counts; `stop` defaults to the log's end."""
    first = max(1, start or 1)
    last = min(stop, last_position(conn)) if stop is not None else last_position(conn)
    counts = count_by_type(conn, first, last) if last >= first else {}
    return Range(first, last, sum(counts.values()), counts.get(EVENT_TRANSACTION, 0))


def replay(engine: Engine, registry: ModelRegistry, *, start: int | None = None, stop: int | None = None,
           keep: int = DEFAULT_SHOWN, chunk: int = CHUNK, progress: Progress | None = None,
           on_range: Callable[[Range], None] | None = None) -> ReplayReport:
    """Recompute every prediction of the events in [start, stop] and compare with what is stored.

    Reads one snapshot and writes nothing. Memory is flat: one chunk of events, its history and its stored
    predictions at a time, plus the first `keep` differences.
    """
    began = time.perf_counter()
    tally = Tally(keep=keep)
    versions: set[int] = set()
    with read_only_snapshot(engine) as conn, collected_per_chunk() as after_chunk:
        span = resolve_range(conn, start, stop)
        if on_range is not None:
            on_range(span)
        table = assignment_table(conn, span.stop)
        walk = FeatureWalk(conn, span.start)
        lower = span.start - 1
        for targets in transaction_chunks(conn, span.start, span.stop, chunk):
            categories = categories_scoring(registry, table, targets)
            # A score that raises is the scorer's recorded failure, not a prediction: replay expects none there.
            replayed = recompute(registry, table, targets, walk.features(conn, targets, categories), categories, [])
            cards = {tx.card_id for tx in targets if tx.card_id is not None}
            replayed = with_suppressions(suppressions_of(conn, cards), replayed, targets)
            versions.update(p.model_version for p in replayed)
            upper = targets[-1].position
            compare_chunk(stored_predictions(conn, lower, upper), replayed, tally)
            lower = upper
            after_chunk()
            if progress is not None:
                progress(len(targets))
        # Predictions stored at positions after the last transaction (none should exist) are unexpected too.
        compare_chunk(stored_predictions(conn, lower, span.stop), [], tally)
    return ReplayReport(span.start, span.stop, span.events, span.transactions, tally.checked, tally.identical,
                        tally.different, tally.missing, tally.unexpected, tally.differences, sorted(versions),
                        time.perf_counter() - began, environment_differences(registry, versions))


def environment_differences(registry: ModelRegistry, versions: set[int]) -> dict[int, Drift]:
    """Each version's recorded environment against this process's, where they differ."""
    moved = {version: differences(registry.get(version).environment) for version in sorted(versions)}
    return {version: drift for version, drift in moved.items() if drift}
