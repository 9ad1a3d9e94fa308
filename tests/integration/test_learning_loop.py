"""The learning loop's guarantees (issue 13), on real SQLite and Postgres.

- concurrent retrain requests produce one version;
- a challenger is promoted only on enough evidence, a clearly better one is, a clearly worse one never is;
- no label is skipped: every label known at a version's cut, of a transaction in its window, is learned;
- `fraudlog train --csv` twice imports once;
- training and serving compute the same features for the same transaction;
- the retrain trigger fires once per new range, and a retrain enters a challenger, never a champion.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.domain.assignment import CHALLENGER, CHAMPION, RETIRED
from fraudlog.domain.events import EVENT_LABEL, EVENT_TRANSACTION
from fraudlog.lifecycle.evaluation import evaluate_challengers
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.lifecycle.promotion import PromotionPolicy
from fraudlog.lifecycle.retraining import RetrainResult, retrain, retrain_due
from fraudlog.lifecycle.window import read_window
from fraudlog.ml.specs import spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.event_log import EventLog
from fraudlog.store.lifecycle import LockBusy
from fraudlog.store.tables import events, model_versions, predictions
from tests.support.data import SAMPLE_CSV
from tests.support.event_log import append_labels, append_transactions
from tests.support.models import SECRET, synthetic_rows
from tests.support.workload import score_in_batches

# Small windows keep every test fast; the guarantees do not depend on the size.
SPEC = spec_for("logreg", window=2_000)
POLICY = PromotionPolicy()  # the defaults: 30 labelled frauds, 100 legitimate, 95 % confidence

Rows = list[tuple[dict[str, Any], bool]]


def flipped(rows: Rows) -> Rows:
    """The same transactions with every label wrong: a model that learns them ranks frauds last."""
    return [(body, not is_fraud) for body, is_fraud in rows]


def first_champion(engine: Engine, rows: Rows | None = None) -> ModelRegistry:
    """Version 1, the champion, trained on `rows` imported as history (600 synthetic rows by default)."""
    registry = ModelRegistry(engine, SECRET)
    history = synthetic_rows(600, seed=70) if rows is None else rows
    assert train_first_version(registry, history, SPEC).version == 1
    return registry


def stream(engine: Engine, rows: Rows, *, labelled: Rows | None = None) -> list[int]:
    """Append `rows` as live transactions, then the labels of `labelled` (all of `rows` by default)."""
    positions = append_transactions(engine, rows)
    append_labels(engine, rows if labelled is None else labelled)
    return positions


def version_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar_one())


def labelled_in_window(engine: Engine, first_position: int, cut: int) -> int:
    """Counted straight from the log: transactions at positions first_position..cut with a label event at a
    position <= cut."""
    tx, label = events.alias("tx"), events.alias("label")
    stmt = (sa.select(sa.func.count(sa.distinct(tx.c.transaction_id)))
            .select_from(tx.join(label, label.c.transaction_id == tx.c.transaction_id))
            .where(tx.c.event_type == EVENT_TRANSACTION, tx.c.position.between(first_position, cut),
                   label.c.event_type == EVENT_LABEL, label.c.position <= cut))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


# -- one retrain at a time --------------------------------------------------------------------------------

def test_concurrent_retrains_make_one_version(engine: Engine) -> None:
    first_champion(engine)
    stream(engine, synthetic_rows(400, seed=71))
    racers = 4
    start = threading.Barrier(racers)
    outcomes: list[RetrainResult | Exception | None] = []

    def request_a_retrain() -> None:
        registry = ModelRegistry(engine, SECRET)  # each request its own, as in separate workers
        start.wait()
        try:
            outcomes.append(retrain(registry))
        except Exception as exc:  # LockBusy is expected; anything else fails below
            outcomes.append(exc)

    threads = [threading.Thread(target=request_a_retrain) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [o for o in outcomes if isinstance(o, RetrainResult)]
    assert len(made) == 1, outcomes
    assert all(o is None or isinstance(o, LockBusy) for o in outcomes if o not in made), outcomes
    assert version_count(engine) == 2
    assert ModelRegistry(engine, SECRET).assignments().current().challengers == (made[0].version,)


# -- promotion on evidence ----------------------------------------------------------------------------------

def champion_and_challenger(engine: Engine, *, bad_champion: bool = False, bad_challenger: bool = False,
                            ) -> tuple[ModelRegistry, int]:
    """Version 1 (champion) learns 1,000 imported rows; version 2 (challenger) is retrained on the next 2,000
    streamed ones (its whole window). A `bad_*` version learned every label the wrong way round."""
    history = synthetic_rows(1_000, seed=72, cards=200)
    registry = first_champion(engine, flipped(history) if bad_champion else history)
    training = synthetic_rows(2_000, seed=73, cards=200)
    stream(engine, training, labelled=flipped(training) if bad_challenger else training)
    challenger = retrain(registry)
    assert challenger is not None and challenger.status == CHALLENGER
    return registry, challenger.version


def shadow_evidence(engine: Engine, registry: ModelRegistry) -> Rows:
    """2,000 new transactions (46 frauds), each scored by the champion and, in shadow, by the challenger; no
    labels yet."""
    rows = synthetic_rows(2_000, seed=85, cards=200)
    score_in_batches(Scorer(engine, registry), append_transactions(engine, rows), size=500)
    return rows


def test_a_challenger_short_of_the_minimum_evidence_is_never_promoted(engine: Engine) -> None:
    registry, challenger = champion_and_challenger(engine, bad_champion=True)
    rows = shadow_evidence(engine, registry)
    frauds = [i for i, (_, is_fraud) in enumerate(rows) if is_fraud]
    short = rows[: frauds[POLICY.min_frauds - 1]]  # one labelled fraud fewer than the policy asks for
    assert sum(y for _, y in short) == POLICY.min_frauds - 1 and len(short) > 10 * POLICY.min_legitimate
    append_labels(engine, short)

    [decision] = evaluate_challengers(registry, POLICY)

    assert decision.action == "keep" and "not enough evidence" in decision.reason
    assert decision.evidence.frauds == POLICY.min_frauds - 1
    assert ModelRegistry(engine, SECRET).assignments().current().champion == 1
    assert ModelRegistry(engine, SECRET).assignments().last_decision(challenger).action == "enter"


def test_a_clearly_better_challenger_is_promoted_with_its_evidence_in_the_log(engine: Engine) -> None:
    registry, challenger = champion_and_challenger(engine, bad_champion=True)
    rows = shadow_evidence(engine, registry)
    append_labels(engine, rows)
    assert sum(y for _, y in rows) >= POLICY.min_frauds

    [decision] = evaluate_challengers(registry, POLICY)

    assert decision.version == challenger and decision.action == "promote"
    from_the_log = ModelRegistry(engine, SECRET).assignments()  # a fresh read of the role events
    assert from_the_log.current().champion == challenger
    recorded = from_the_log.last_decision(challenger)
    assert recorded is not None and recorded.kind == "automatic" and recorded.action == "promote"
    evidence = recorded.evidence
    assert evidence.transactions == len(rows) and evidence.frauds == sum(y for _, y in rows)
    assert evidence.challenger_auc > 0.9 > 0.5 > evidence.champion_auc
    assert evidence.p_value < 1 - POLICY.confidence and evidence.champion == 1


def test_a_clearly_worse_challenger_is_never_promoted(engine: Engine) -> None:
    registry, challenger = champion_and_challenger(engine, bad_challenger=True)
    rows = shadow_evidence(engine, registry)
    append_labels(engine, rows)

    [decision] = evaluate_challengers(registry, POLICY)

    assert decision.version == challenger and decision.action == "retire"
    assert decision.evidence.challenger_auc < 0.5 < decision.evidence.champion_auc
    table = ModelRegistry(engine, SECRET).assignments()
    assert table.current().champion == 1 and table.status_of(challenger) == RETIRED
    assert CHAMPION not in {change.role for change in table.changes_of(challenger)}
    assert evaluate_challengers(registry, POLICY) == []  # retired: never evaluated again


# -- no label skipped -----------------------------------------------------------------------------------------

def assert_learns_every_label_in_its_window(engine: Engine, registry: ModelRegistry, version: int) -> int:
    record = registry.get(version)
    data = record.training_data
    expected = labelled_in_window(engine, data.first_position, data.label_cut)
    assert data.label_count == record.metrics["n_labels"] == expected
    return expected


def test_no_label_is_skipped_late_labels_are_learned_by_the_next_version(engine: Engine) -> None:
    registry = first_champion(engine)  # 600 imported transactions, all labelled
    assert assert_learns_every_label_in_its_window(engine, registry, 1) == 600
    early = synthetic_rows(300, seed=75)
    stream(engine, early, labelled=early[:150])  # half of the labels arrive before the next cut
    second = retrain(registry)
    assert second is not None
    assert assert_learns_every_label_in_its_window(engine, registry, second.version) == 600 + 150
    append_labels(engine, early[150:])  # the other half arrive after it
    late = synthetic_rows(100, seed=76)
    stream(engine, late)
    third = retrain(registry)
    assert third is not None
    assert assert_learns_every_label_in_its_window(engine, registry, third.version) == 600 + 300 + 100


# -- train --csv ----------------------------------------------------------------------------------------------

@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())


@pytest.mark.usefixtures("creditcard_csv", "cli_env")
def test_train_csv_twice_imports_once(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    command = ["train", "--csv", str(SAMPLE_CSV), "--rows", "3000"]
    assert main(command) == 0
    assert "imported 3,000 new of 3,000 rows (3,000 new labels)" in capsys.readouterr().out
    log = EventLog(engine)
    counts = log.count(EVENT_TRANSACTION), log.count(EVENT_LABEL)
    assert counts == (3_000, 3_000)

    assert main(command) == 0
    assert (log.count(EVENT_TRANSACTION), log.count(EVENT_LABEL)) == counts
    assert "imported 0 new of 3,000 rows (0 new labels)" in capsys.readouterr().out
    first, second = ModelRegistry(engine, SECRET).list()
    assert first.training_data.sha256 == second.training_data.sha256  # the same history, learned again


# -- train/serve skew -----------------------------------------------------------------------------------------

def test_training_and_serving_features_are_equal_for_the_same_transaction(engine: Engine) -> None:
    registry = first_champion(engine)
    rows = synthetic_rows(500, seed=77, cards=5)  # few cards: long card histories
    positions = append_transactions(engine, rows)
    score_in_batches(Scorer(engine, registry), list(reversed(positions)), size=60)  # out of order, in batches
    with engine.connect() as conn:
        served = dict(conn.execute(sa.select(predictions.c.position, predictions.c.features)
                                   .where(predictions.c.model_version == 1)).all())
    window = read_window(engine, EventLog(engine).last_position(), transactions=100_000)
    with engine.connect() as conn:
        in_window = list(conn.execute(sa.select(events.c.position)
                                      .where(events.c.event_type == EVENT_TRANSACTION,
                                             events.c.position.between(window.first_position, window.cut))
                                      .order_by(events.c.position)).scalars())
    trained = {position: features for position, (features, _) in zip(in_window, window.data.examples(),
                                                                     strict=True)}
    assert set(served) == set(positions) and set(positions) <= set(trained)
    differing = [p for p in positions if trained[p] != served[p]]
    assert differing == [], f"{len(differing)} transactions, e.g. {trained[differing[0]]} != {served[differing[0]]}"


# -- the trigger ---------------------------------------------------------------------------------------------

def test_the_retrain_trigger_fires_once_per_new_range(engine: Engine) -> None:
    registry = first_champion(engine)
    assert retrain(registry) is None  # nothing new since version 1's cut
    stream(engine, synthetic_rows(200, seed=78))
    fired = retrain(registry)
    assert fired is not None
    assert retrain(registry) is None  # the same range again: the challenger's cut counts, not the champion's
    assert not retrain_due(registry).due
    unlabelled = synthetic_rows(200, seed=79)
    append_transactions(engine, unlabelled)
    assert retrain(registry) is None  # a supervised champion: new transactions but no new label
    append_labels(engine, unlabelled)
    again = retrain(registry)
    assert again is not None and again.version == fired.version + 1
    assert registry.get(again.version).training_data.first_position <= registry.get(
        fired.version).training_data.label_cut < registry.get(again.version).training_data.label_cut
    assert retrain(registry) is None
    assert version_count(engine) == 3


def test_a_retrain_enters_a_challenger_and_records_why(engine: Engine) -> None:
    registry = first_champion(engine)
    stream(engine, synthetic_rows(200, seed=80))
    result = retrain(registry)
    assert result is not None and result.status == CHALLENGER and result.parent_version == 1
    table = ModelRegistry(engine, SECRET).assignments()
    assert table.current().champion == 1 and table.current().challengers == (result.version,)
    [change] = table.changes_of(result.version)
    assert change.role == CHALLENGER
    assert change.decision is not None
    assert (change.decision.kind, change.decision.action) == ("automatic", "enter")
