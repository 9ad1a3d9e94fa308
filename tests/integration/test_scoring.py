"""Scoring from the log: idempotent, champion decided by the log, features independent of batching."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from fraudlog.domain.assignment import CHALLENGER, CHAMPION
from fraudlog.domain.features import TxView, compute_features
from fraudlog.lifecycle.roles import assign_role
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.scoring.sweeper import Sweeper
from fraudlog.store.event_log import EventLog
from fraudlog.store.tables import alert_members, alerts, predictions
from tests.support.event_log import append_transactions, read_range
from tests.support.models import SECRET, install_version, synthetic_rows


def prediction_rows(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(predictions).order_by(predictions.c.position)).mappings()]


def alert_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one())


def alerted_transactions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(alert_members)).scalar_one())


@pytest.fixture
def scorer(engine: Engine) -> Scorer:
    return Scorer(engine, ModelRegistry(engine, SECRET))


def test_same_doorbell_twice_writes_one_prediction_each(engine: Engine, scorer: Scorer) -> None:
    install_version(engine, alert_rate=0.2)
    positions = append_transactions(engine, synthetic_rows(300, seed=11))
    first = scorer.score_positions(positions)
    again = scorer.score_positions(positions)
    assert first.predictions == 300 and again.predictions == 0 and again.alerts == 0
    rows = prediction_rows(engine)
    assert len(rows) == 300 and all(r["champion"] and r["model_version"] == 1 for r in rows)
    # The report counts the transactions that alerted; a card's burst in one window makes one alert (invariant 19).
    assert first.alerts == alerted_transactions(engine) >= alert_count(engine) > 0


def test_same_batch_scored_concurrently_writes_once(engine: Engine) -> None:
    install_version(engine, alert_rate=0.2)
    positions = append_transactions(engine, synthetic_rows(200, seed=12))
    barrier = threading.Barrier(4)

    def run() -> None:
        scorer = Scorer(engine, ModelRegistry(engine, SECRET))
        barrier.wait()
        scorer.score_positions(positions)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = prediction_rows(engine)
    assert len(rows) == 200 and len({r["transaction_id"] for r in rows}) == 200
    with engine.connect() as conn:
        per_tx = conn.execute(sa.select(alerts.c.transaction_id, sa.func.count()).group_by(
            alerts.c.transaction_id)).all()
    assert per_tx and all(count == 1 for _, count in per_tx)


def test_the_champion_is_the_version_whose_promotion_precedes_the_event(engine: Engine, scorer: Scorer) -> None:
    rows = synthetic_rows(90, seed=13)
    before_any = append_transactions(engine, rows[:30])
    v1 = install_version(engine, seed=1)
    under_v1 = append_transactions(engine, rows[30:60])
    v2 = install_version(engine, seed=2, promote=False)
    assign_role(ModelRegistry(engine, SECRET), v2, CHAMPION)
    under_v2 = append_transactions(engine, rows[60:])
    # Score out of order and in one batch: the assignment comes from positions, not from timing.
    report = scorer.score_positions(list(reversed(before_any + under_v1 + under_v2)))
    assert report.unassigned == 30
    by_position = {r["position"]: r for r in prediction_rows(engine)}
    assert set(by_position) == set(under_v1 + under_v2)
    assert all(by_position[p]["model_version"] == v1 for p in under_v1)
    assert all(by_position[p]["model_version"] == v2 for p in under_v2)


def test_challengers_score_in_shadow_without_alerts(engine: Engine, scorer: Scorer) -> None:
    install_version(engine, seed=1, alert_rate=0.5)
    challenger = install_version(engine, seed=2, promote=False, alert_rate=1.0)
    assign_role(ModelRegistry(engine, SECRET), challenger, CHALLENGER)
    positions = append_transactions(engine, synthetic_rows(100, seed=14))
    scorer.score_positions(positions)
    rows = prediction_rows(engine)
    assert len(rows) == 200
    with engine.connect() as conn:
        alerted_versions = set(conn.execute(sa.select(alerts.c.model_version)).scalars())
    assert alerted_versions == {1}


def test_sweeper_finds_events_whose_doorbell_was_lost(engine: Engine, scorer: Scorer) -> None:
    install_version(engine)
    positions = append_transactions(engine, synthetic_rows(50, seed=15))
    sweeper = Sweeper(engine, ModelRegistry(engine, SECRET))
    assert sweeper.find_unscored(grace=timedelta(hours=1)) == []  # still within the grace period
    lost = sweeper.find_unscored(grace=timedelta(0), now=datetime.now(UTC) + timedelta(seconds=1))
    assert lost == positions
    scorer.score_positions(lost)
    assert sweeper.find_unscored(grace=timedelta(0), now=datetime.now(UTC) + timedelta(seconds=1)) == []


def test_tampered_artifact_is_refused_naming_the_version(engine: Engine) -> None:
    version = install_version(engine, promote=False)
    with engine.begin() as conn:  # a superuser swaps a byte: drop the guard trigger, as such a person could
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE model_versions DISABLE TRIGGER model_versions_immutable")
            conn.exec_driver_sql("UPDATE model_versions SET artifact = overlay(artifact placing '\\x00'::bytea "
                                 "from 100 for 1)")
        else:
            conn.exec_driver_sql("DROP TRIGGER model_versions_no_update")
            blob = bytearray(conn.exec_driver_sql("SELECT artifact FROM model_versions").scalar_one())
            blob[100] ^= 0xFF
            conn.execute(sa.text("UPDATE model_versions SET artifact = :b"), {"b": bytes(blob)})
    registry = ModelRegistry(engine, SECRET)
    with pytest.raises(ArtifactRejected, match=f"version {version}"):
        registry.load(version)
    with pytest.raises(ArtifactRejected):
        assign_role(registry, version, CHAMPION)
    assert registry.verify_artifact(version) is False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), splits=st.integers(1, 6))
def test_features_do_not_depend_on_batching_or_order(engine: Engine, seed: int, splits: int) -> None:
    """Invariant 3 through the store: random batch splits in random order give the one-at-a-time features."""
    rng = random.Random(seed)
    registry = ModelRegistry(engine, SECRET)
    if not registry.list():
        install_version(engine)
    start = EventLog(engine).last_position()
    rows = synthetic_rows(60, seed=seed, cards=5)
    rows = [({**body, "transaction_id": f"{body['transaction_id']}-{start}"}, y) for body, y in rows]
    rng.shuffle(rows)  # arrive out of event-time order: position order is what counts
    positions = append_transactions(engine, rows)
    cuts = sorted(rng.sample(range(1, len(positions)), k=min(splits, len(positions) - 1)))
    batches = [positions[a:b] for a, b in zip([0, *cuts], [*cuts, len(positions)], strict=True)]
    rng.shuffle(batches)
    scorer = Scorer(engine, registry)
    for batch in batches:
        scorer.score_positions(batch)
    stored = {r["position"]: r["features"] for r in prediction_rows(engine) if r["position"] in set(positions)}
    history = [TxView.from_payload(e.position, e.payload)
               for e in read_range(engine, event_types=["transaction"])]
    for position in positions:
        [target] = [h for h in history if h.position == position]
        assert stored[position] == compute_features(target, history)
