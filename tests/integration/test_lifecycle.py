"""Model lifecycle: reproducible retraining, no future labels, immutable versions, hot swap under load,
pinned on-demand scoring, and labels that arrive before their transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from service.api.app import create_app
from service.api.server import serve_in_thread
from service.config import RetrainSchedule, Settings
from service.domain.assignment import CHAMPION
from service.domain.events import LabelIn, canonical_label, digest
from service.retrain import TrainingRange, retrain, train_child
from service.scoring import Scorer
from service.store.event_log import EventLog, NewEvent
from service.store.registry import ModelRegistry
from service.store.tables import EVENT_LABEL, model_versions, predictions
from tests.integration.test_scoring import append_rows
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import wait_until
from workers.scheduler import SchedulerAlreadyRunning, single_scheduler
from workers.wiring import broker_wiring


def append_labels(engine: Engine, rows: list[tuple[dict[str, Any], bool]]) -> None:
    now = datetime.now(UTC)
    events = []
    for body, is_fraud in rows:
        canonical = canonical_label(LabelIn(transaction_id=body["transaction_id"], is_fraud=is_fraud), now)
        events.append(NewEvent(EVENT_LABEL, body["transaction_id"], None, now, digest(canonical), canonical))
    EventLog(engine).append_labels([events], now)


def test_retraining_is_deterministic(engine: Engine) -> None:
    parent = install_version(engine)
    rows = synthetic_rows(400, seed=31)
    append_rows(engine, rows)
    append_labels(engine, rows[:300])
    registry = ModelRegistry(engine, SECRET)
    span = TrainingRange(0, EventLog(engine).last_position())
    first, second = train_child(registry, parent, span), train_child(registry, parent, span)
    assert first["artifact_sha256"] == second["artifact_sha256"]
    assert first["training_data"] == second["training_data"]
    assert first["training_data"]["event_count"] == 400 and first["training_data"]["label_count"] == 300


def test_supervised_retraining_never_sees_a_label_recorded_after_the_range(engine: Engine) -> None:
    parent = install_version(engine, model="logreg")
    rows = synthetic_rows(300, seed=32)
    append_rows(engine, rows)
    append_labels(engine, rows[:150])
    registry = ModelRegistry(engine, SECRET)
    span = TrainingRange(0, EventLog(engine).last_position())
    before = train_child(registry, parent, span)
    append_labels(engine, rows[150:])  # the truth about the rest arrives after the range's end
    append_labels(engine, [(body, not y) for body, y in rows[:50]])  # and corrections of earlier labels
    after = train_child(registry, parent, span)
    assert before["training_data"]["label_count"] == 150
    assert after["artifact_sha256"] == before["artifact_sha256"]
    assert after["metrics"]["n_events"] == 150  # a supervised spec learns only the labelled ones


def test_version_rows_refuse_update_and_delete(engine: Engine) -> None:
    install_version(engine)
    for statement in ("UPDATE model_versions SET threshold = 0", "DELETE FROM model_versions"):
        with pytest.raises(sa.exc.DatabaseError, match="refused"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar_one() == 1


def test_retrain_writes_a_child_and_promotes_by_policy(engine: Engine) -> None:
    install_version(engine)
    rows = synthetic_rows(500, seed=43)  # 9 frauds among them
    positions = append_rows(engine, rows)
    registry = ModelRegistry(engine, SECRET)
    Scorer(engine, registry).score_positions(positions)
    append_labels(engine, rows)
    promoted = retrain(registry, margin=1.0)  # a margin of 1.0 always promotes
    assert promoted is not None and promoted.status == CHAMPION and promoted.parent_version == 1
    lineage = registry.get(promoted.version)
    assert lineage.parent_version == 1
    assert lineage.training_data["last_position"] == EventLog(engine).last_position() - 1  # before its promotion
    assert registry.assignments().current().champion == promoted.version
    kept = retrain(registry, promote=False)
    assert kept is None or kept.status == "challenger"


def test_scheduler_refuses_to_run_twice(engine: Engine, database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key=SECRET)
    other = sa.create_engine(engine.url)
    with single_scheduler(engine, settings), pytest.raises(SchedulerAlreadyRunning), \
            single_scheduler(other, settings):
        pass
    with single_scheduler(other, settings):  # released when the first one stops
        pass
    other.dispose()


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with TestClient(create_app(settings, wiring=broker_wiring)) as client:
        yield client


def test_predict_honours_a_pinned_version(client: TestClient[Any]) -> None:
    engine = client.app.state.engine
    install_version(engine, model="hst", seed=1)
    install_version(engine, model="logreg", seed=2, promote=False)
    transaction = synthetic_rows(1, seed=34)[0][0]
    champion = client.post("/v1/predict", json={"transaction": transaction}).json()
    pinned_1 = client.post("/v1/predict", json={"transaction": transaction, "model_version": 1}).json()
    pinned_2 = client.post("/v1/predict", json={"transaction": transaction, "model_version": 2}).json()
    assert champion["model_version"] == 1 and champion == pinned_1
    assert pinned_2["model_version"] == 2 and pinned_2["score"] != pinned_1["score"]
    missing = client.post("/v1/predict", json={"transaction": transaction, "model_version": 99})
    assert missing.status_code == 404
    bad = client.post("/v1/predict", json={"transaction": {**transaction, "amount": -1}, "model_version": 0})
    assert bad.status_code == 422
    assert {e["pointer"] for e in bad.json()["errors"]} == {"/transaction/amount", "/model_version"}
    assert EventLog(engine).count("transaction") == 0  # nothing stored


def test_label_that_arrives_before_its_transaction_is_joined(client: TestClient[Any]) -> None:
    install_version(client.app.state.engine)
    body, _ = synthetic_rows(1, seed=35)[0]
    label = {"transaction_id": body["transaction_id"], "is_fraud": True}
    assert client.post("/v1/labels", json=label).status_code == 202
    assert client.post("/v1/transactions", json=body).status_code == 202
    wait_until(lambda: client.get("/v1/stats").json()["scored"] == 1, message="the transaction scored")
    model = client.get("/v1/models").json()[0]
    assert model["live_metrics"]["labels"] == 1 and model["live_metrics"]["frauds"] == 1


def test_models_api_promotes_and_retires(client: TestClient[Any]) -> None:
    engine = client.app.state.engine
    install_version(engine)
    install_version(engine, seed=2, promote=False)
    assert [m["status"] for m in client.get("/v1/models").json()] == ["champion", "challenger"]
    assert client.post("/v1/models/2/promote").json()["status"] == "champion"
    assert client.post("/v1/models/1/retire").status_code == 200
    assert [m["status"] for m in client.get("/v1/models").json()] == ["retired", "champion"]
    assert client.post("/v1/models/7/promote").status_code == 404
    lineage = client.get("/v1/models/2").json()
    assert lineage["artifact"]["hmac_verified"] is True and lineage["environment"]["river"]
    assert set(lineage) >= {"version", "parent_version", "created_at", "model_spec", "training_code",
                            "training_data", "environment", "artifact", "threshold", "metrics"}


@pytest.mark.postgres
def test_stream_keeps_flowing_through_retraining_and_two_promotions(pg_url: str, pg_engine: Engine) -> None:
    """Clients post without pause while versions are retrained and promoted: no request fails, nothing is
    left unscored, nothing is scored twice by its champion, and each prediction's version is the log's."""
    install_version(pg_engine, model="logreg")
    settings = Settings(database_url=pg_url, secret_key=SECRET, alert_sink="memory://",
                        retrain_every=RetrainSchedule(seconds=3600))
    rows = synthetic_rows(6_000, seed=36)
    statuses: list[int] = []
    with serve_in_thread(create_app(settings, wiring=broker_wiring)) as url:
        def post_stream() -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                for start in range(0, len(rows), 100):
                    batch = rows[start : start + 100]
                    statuses.append(http.post("/v1/transactions", json=[b for b, _ in batch]).status_code)
                    statuses.append(http.post("/v1/labels", json=[
                        {"transaction_id": b["transaction_id"], "is_fraud": y} for b, y in batch]).status_code)

        poster = threading.Thread(target=post_stream)
        poster.start()
        registry = ModelRegistry(pg_engine, SECRET)
        promotions = 0
        while poster.is_alive() and promotions < 2:
            time.sleep(0.5)
            result = retrain(registry, margin=1.0)
            promotions += result is not None and result.status == CHAMPION
        poster.join()
        wait_until(lambda: httpx.get(f"{url}/v1/stats").json()["backlog"]["count"] == 0, timeout=120,
                   message="the backlog to drain")
    assert promotions == 2 and set(statuses) == {202}
    table = ModelRegistry(pg_engine, SECRET).assignments()
    with pg_engine.connect() as conn:
        champion_rows = conn.execute(sa.select(predictions.c.position, predictions.c.model_version)
                                     .where(predictions.c.champion)).all()
    assert len(champion_rows) == len(rows) == len({p for p, _ in champion_rows})
    assert all(version == table.assignment_at(position).champion for position, version in champion_rows)
    assert len({version for _, version in champion_rows}) == 3


def test_challengers_beyond_the_cap_are_retired(engine: Engine) -> None:
    install_version(engine)
    registry = ModelRegistry(engine, SECRET)
    made = []
    for seed in range(4):
        append_rows(engine, synthetic_rows(50, seed=60 + seed))
        result = retrain(registry, promote=False, max_challengers=2)
        assert result is not None
        made.append(result.version)
    current = registry.assignments().current()
    assert current.champion == 1 and current.challengers == tuple(made[-2:])
    assert all(registry.assignments().status_of(v) == "retired" for v in made[:2])


@pytest.mark.postgres
def test_scheduler_notices_when_a_database_restart_drops_its_lock(pg_engine: Engine, pg_url: str) -> None:
    """A session lock dies with its session; the scheduler must see that, or two could run after a restart."""
    from workers.scheduler import ADVISORY_LOCK_KEY

    with single_scheduler(pg_engine, Settings(database_url=pg_url, secret_key=SECRET)) as still_held:
        assert still_held()
        with pg_engine.connect() as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                f"AND objid = {ADVISORY_LOCK_KEY & 0xFFFFFFFF}")
        assert not still_held()
