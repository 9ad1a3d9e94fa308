"""Model lifecycle: reproducible retraining, no future labels, immutable versions, hot swap under load,
pinned on-demand scoring, and labels that arrive before their transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from fraudlog.api.dependencies import services_of
from fraudlog.config import RetrainSchedule, Settings
from fraudlog.domain.assignment import CHALLENGER, CHAMPION, Assignment
from fraudlog.lifecycle.evaluation import evaluate_challengers
from fraudlog.lifecycle.promotion import PromotionPolicy
from fraudlog.lifecycle.retraining import retrain
from fraudlog.lifecycle.versions import train_version
from fraudlog.ml.specs import ModelSpec
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.event_log import EventLog
from fraudlog.store.tables import model_versions, predictions
from fraudlog.workers.scheduler import SchedulerAlreadyRunning, single_scheduler
from tests.support.api import api_client, served_api
from tests.support.event_log import append_labels, append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import wait_until


def test_retraining_is_deterministic(engine: Engine) -> None:
    parent = install_version(engine)  # 400 imported transactions, all labelled
    rows = synthetic_rows(400, seed=31)
    append_transactions(engine, rows)
    append_labels(engine, rows[:300])
    cut = EventLog(engine).last_position()
    spec = ModelSpec.from_dict(ModelRegistry(engine, SECRET).get(parent).model_spec)
    first, second = (train_version(engine, SECRET, spec, cut=cut, parent=parent) for _ in range(2))
    assert first.artifact_sha256 == second.artifact_sha256
    assert first.lineage.training_data == second.lineage.training_data
    assert first.lineage.training_data.event_count == 400 + 400 and first.lineage.training_data.label_count == 400 + 300


def test_supervised_retraining_never_sees_a_label_recorded_after_the_cut(engine: Engine) -> None:
    parent = install_version(engine, model="logreg")  # 400 imported transactions, all labelled
    rows = synthetic_rows(300, seed=32)
    append_transactions(engine, rows)
    append_labels(engine, rows[:150])
    cut = EventLog(engine).last_position()
    spec = ModelSpec.from_dict(ModelRegistry(engine, SECRET).get(parent).model_spec)
    before = train_version(engine, SECRET, spec, cut=cut, parent=parent)
    append_labels(engine, rows[150:])  # the truth about the rest arrives after the cut
    append_labels(engine, [(body, not y) for body, y in rows[:50]])  # and corrections of earlier labels
    after = train_version(engine, SECRET, spec, cut=cut, parent=parent)
    assert before.lineage.training_data.label_count == 400 + 150
    assert after.artifact_sha256 == before.artifact_sha256
    assert after.metrics["n_labels"] == 400 + 150  # a supervised spec learns only the labelled ones
    assert after.metrics["learned"] == after.metrics["passes"] * (400 + 150)


def test_version_rows_refuse_update_and_delete(engine: Engine) -> None:
    install_version(engine)
    for statement in ("UPDATE model_versions SET threshold = 0", "DELETE FROM model_versions"):
        with pytest.raises(sa.exc.DatabaseError, match="refused"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar_one() == 1


def test_retrain_writes_a_child_that_enters_as_a_challenger(engine: Engine) -> None:
    install_version(engine)
    rows = synthetic_rows(500, seed=43)
    positions = append_transactions(engine, rows)
    registry = ModelRegistry(engine, SECRET)
    Scorer(engine, registry).score_positions(positions)
    append_labels(engine, rows)
    child = retrain(registry)
    assert child is not None and child.status == CHALLENGER and child.parent_version == 1
    lineage = registry.get(child.version)
    assert lineage.parent_version == 1
    assert lineage.training_data.last_position == EventLog(engine).last_position() - 1  # before its role event
    assert registry.assignments().current() == Assignment(1, (child.version,))
    assert registry.assignments().last_decision(child.version).action == "enter"
    promoted = retrain(registry, promote=True)  # nothing new since the child's cut: nothing to do
    assert promoted is None
    # "nothing to do" must mean nothing was done: no new version, no role change
    assert [v.version for v in registry.list()] == [1, child.version]
    assert registry.assignments().current() == Assignment(1, (child.version,))


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
    with api_client(settings, background=True) as client:
        yield client


def test_predict_honours_a_pinned_version(client: TestClient[Any]) -> None:
    engine = services_of(client.app).engine
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
    assert EventLog(engine).count("transaction") == 400  # the imported history only: nothing stored


def test_label_that_arrives_before_its_transaction_is_joined(client: TestClient[Any]) -> None:
    install_version(services_of(client.app).engine)
    body, _ = synthetic_rows(1, seed=35)[0]
    label = {"transaction_id": body["transaction_id"], "is_fraud": True}
    assert client.post("/v1/labels", json=label).status_code == 202
    assert client.post("/v1/transactions", json=body).status_code == 202
    wait_until(lambda: client.get("/v1/stats").json()["scored"] == 1, message="the transaction scored")
    model = client.get("/v1/models").json()[0]
    assert model["live_metrics"]["labels"] == 1 and model["live_metrics"]["frauds"] == 1


def test_models_api_promotes_and_retires(client: TestClient[Any]) -> None:
    engine = services_of(client.app).engine
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
    with served_api(settings, background=True) as url:
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
            result = retrain(registry, promote=True)  # promoted by hand
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
        append_transactions(engine, synthetic_rows(50, seed=60 + seed))
        result = retrain(registry)
        assert result is not None
        made.append(result.version)
    decisions = evaluate_challengers(registry, PromotionPolicy(max_challengers=2))
    assert [(d.version, d.action) for d in decisions if d.action != "keep"] == [(made[0], "retire"),
                                                                                (made[1], "retire")]
    current = registry.assignments().current()
    assert current.champion == 1 and current.challengers == tuple(made[-2:])
    assert all(registry.assignments().status_of(v) == "retired" for v in made[:2])


@pytest.mark.postgres
def test_scheduler_notices_when_a_database_restart_drops_its_lock(pg_engine: Engine, pg_url: str) -> None:
    """A session lock dies with its session; the scheduler must see that, or two could run after a restart."""
    from fraudlog.workers.scheduler import ADVISORY_LOCK_KEY

    with single_scheduler(pg_engine, Settings(database_url=pg_url, secret_key=SECRET)) as still_held:
        assert still_held()
        with pg_engine.connect() as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                f"AND objid = {ADVISORY_LOCK_KEY & 0xFFFFFFFF} "
                # only this database's scheduler: other tests' schedulers hold the same key in theirs
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        assert not still_held()
