"""A realistic history for replay and rebuild tests: retrains, a challenger, label corrections and a crash.

Built through the same code paths production uses (the scorer, the sweeper, retraining), so that replay and
rebuild are proved against what the service really writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.domain.assignment import CHALLENGER, CHAMPION
from service.retrain import retrain
from service.scoring.scorer import Scorer
from service.scoring.sweeper import Sweeper
from service.store.registry import ModelRegistry
from service.store.tables import predictions
from tests.support.event_log import append_labels, append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows


@dataclass(frozen=True)
class Workload:
    """What `build_workload` made: the rows it appended, the versions it retrained, the predictions stored."""

    rows: list[tuple[dict[str, Any], bool]]
    champion_retrain: int  # a child of version 1, promoted
    challenger_retrain: int  # a child of that one, kept as a challenger
    predictions: int


def score_in_batches(scorer: Scorer, positions: list[int], size: int = 100) -> None:
    for start in range(0, len(positions), size):
        scorer.score_positions(positions[start : start + size])


def crash_then_recover(engine: Engine, registry: ModelRegistry, positions: list[int]) -> None:
    """A worker scores part of its batch and dies before the rest; the sweeper finds the rest later."""
    Scorer(engine, registry).score_positions(positions[: len(positions) // 3])
    lost = Sweeper(engine, registry).find_unscored(grace=timedelta(0), now=datetime.now(UTC) + timedelta(seconds=1))
    assert lost == positions[len(positions) // 3 :]
    score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)), lost, size=70)  # a fresh worker


def build_workload(engine: Engine, *, logreg_challenger: bool = True, crash: Any = crash_then_recover) -> Workload:
    """Labels (with corrections), two retrains (one promoted, one a challenger), a logreg challenger, and a
    worker crash in the middle; every event is scored in the end."""
    registry = ModelRegistry(engine, SECRET)
    install_version(engine)
    if logreg_challenger:
        registry.set_role(install_version(engine, model="logreg", seed=5, promote=False), CHALLENGER)
    rows = synthetic_rows(1_200, seed=64, cards=25)
    score_in_batches(Scorer(engine, registry), append_transactions(engine, rows[:400]))
    append_labels(engine, rows[:300])
    promoted = retrain(registry, margin=1.0)  # a margin of 1.0 always promotes
    assert promoted is not None and promoted.status == CHAMPION
    crash(engine, registry, append_transactions(engine, rows[400:800]))
    append_labels(engine, rows[300:700])
    append_labels(engine, [(body, not y) for body, y in rows[:15]])  # corrections, in a later append
    append_labels(engine, [(body, y) for body, y in rows[700:720]] + [(body, not y) for body, y in rows[700:705]])
    challenger = retrain(registry, promote=False)
    assert challenger is not None and challenger.status == CHALLENGER
    score_in_batches(Scorer(engine, registry), append_transactions(engine, rows[800:]))
    append_labels(engine, rows[800:1_100])
    with engine.connect() as conn:
        stored = int(conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one())
    return Workload(rows, promoted.version, challenger.version, stored)
