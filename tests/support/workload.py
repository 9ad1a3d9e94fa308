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

from fraudlog.domain.assignment import CHALLENGER, CHAMPION
from fraudlog.lifecycle.retraining import retrain
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.scoring.sweeper import Sweeper
from fraudlog.store.event_log import EventLog
from fraudlog.store.tables import predictions
from tests.support.event_log import append_labels, append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows


@dataclass(frozen=True)
class Workload:
    """What `build_workload` made: the rows it appended, the versions it retrained, the predictions stored."""

    rows: list[tuple[dict[str, Any], bool]]  # streamed after the history
    history: int  # transactions imported before the first version: labelled, never scored
    first_position: int  # of the first streamed transaction
    champion_retrain: int  # retrained while version 1 was champion, promoted by hand
    challenger_retrain: int  # retrained under that one, entered as a challenger
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
    """Imported history, labels (with corrections), two retrains (one promoted by hand, one entering as a
    challenger), a logreg challenger, and a worker crash in the middle; every streamed event is scored in the
    end."""
    registry = ModelRegistry(engine, SECRET)
    install_version(engine)
    if logreg_challenger:
        install_version(engine, model="logreg", promote=False)  # trained on the imported history, a challenger
    history = EventLog(engine).count("transaction")
    rows = synthetic_rows(1_200, seed=64, cards=25)
    first = append_transactions(engine, rows[:400])
    score_in_batches(Scorer(engine, registry), first)
    append_labels(engine, rows[:300])
    promoted = retrain(registry, promote=True)  # a manual promotion: evidence is the evaluation's business
    assert promoted is not None and promoted.status == CHAMPION
    crash(engine, registry, append_transactions(engine, rows[400:800]))
    append_labels(engine, rows[300:700])
    append_labels(engine, [(body, not y) for body, y in rows[:15]])  # corrections, in a later append
    append_labels(engine, [(body, y) for body, y in rows[700:720]] + [(body, not y) for body, y in rows[700:705]])
    challenger = retrain(registry)
    assert challenger is not None and challenger.status == CHALLENGER
    score_in_batches(Scorer(engine, registry), append_transactions(engine, rows[800:]))
    append_labels(engine, rows[800:1_100])
    with engine.connect() as conn:
        stored = int(conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one())
    return Workload(rows, history, first[0], promoted.version, challenger.version, stored)
