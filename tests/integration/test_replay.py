"""Replay and backtest: every stored prediction re-derived from the log, bit for bit, and nothing written."""

from __future__ import annotations

import json
import signal
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from fraudlog.alerts import sinks
from fraudlog.api.dependencies import services_of
from fraudlog.cli import main
from fraudlog.config import Settings
from fraudlog.ml.metrics import roc_auc
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import backtest, replay
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.errors import StoreError
from fraudlog.store.event_log import EventLog
from fraudlog.store.snapshot import read_only_snapshot
from fraudlog.store.tables import alert_members, events, labels, metadata, predictions
from tests.support.api import api_client
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows, tamper_artifact
from tests.support.processes import kill, start_worker, wait_until, worker
from tests.support.workload import build_workload, score_in_batches


def alter_one_score(engine: Engine, transaction_id: str) -> None:
    """What a superuser could do: predictions have no guard trigger, unlike the log and the versions."""
    with engine.begin() as conn:
        conn.execute(sa.update(predictions).where(predictions.c.transaction_id == transaction_id,
                                                  predictions.c.champion).values(score=predictions.c.score + 1e-12))


def some_champion_prediction(engine: Engine, offset: int = 500) -> tuple[str, int]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(predictions.c.transaction_id, predictions.c.model_version)
                           .where(predictions.c.champion).order_by(predictions.c.position).offset(offset)).first()
    assert row is not None
    return str(row[0]), int(row[1])


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("FRAUDLOG_API_KEYS", "test:admin:test-key")  # required outside embedded mode
    monkeypatch.setenv("FRAUDLOG_BROKER_URL", "memory://")
    return database_url


def test_replay_reproduces_a_lifecycle_workload_then_names_an_altered_score(
        engine: Engine, cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    work = build_workload(engine)
    report = replay(engine, ModelRegistry(engine, SECRET))
    assert report.reproduced, [d.to_dict() for d in report.differences]
    assert report.identical == report.checked == work.predictions > 2 * len(work.rows)  # champion + challengers
    assert report.transactions == work.history + len(work.rows)  # the history is replayed, unassigned
    assert set(report.versions) == {1, 2, work.champion_retrain, work.challenger_retrain}
    assert main(["replay"]) == 0
    assert "every prediction reproduced bit for bit" in capsys.readouterr().out

    altered, version = some_champion_prediction(engine)
    alter_one_score(engine, altered)
    assert main(["replay"]) == 1
    out = capsys.readouterr().out
    assert f"different: transaction {altered}" in out and f"model version {version}" in out
    assert "  score: stored " in out
    assert main(["replay", "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert (found["different"], found["missing"], found["unexpected"]) == (1, 0, 0)
    [difference] = found["differences"]
    assert difference["transaction_id"] == altered and set(difference["fields"]) == {"score"}
    stored, replayed = difference["fields"]["score"]["stored"], difference["fields"]["score"]["replayed"]
    assert stored == replayed + 1e-12 and stored != replayed


def test_replay_counts_missing_and_unexpected_predictions(engine: Engine) -> None:
    work = build_workload(engine, logreg_challenger=False)
    lost, version = some_champion_prediction(engine, offset=100)
    forged = work.rows[50][0]["transaction_id"]
    with engine.begin() as conn:
        conn.execute(sa.delete(predictions).where(predictions.c.transaction_id == lost))
        row = dict(conn.execute(sa.select(predictions).where(predictions.c.transaction_id == forged)).mappings()
                   .first() or {})
        conn.execute(sa.insert(predictions), {**row, "model_version": 99, "champion": False})
    report = replay(engine, ModelRegistry(engine, SECRET))
    assert (report.different, report.missing, report.unexpected) == (0, 1, 1)
    kinds = {(d.kind, d.transaction_id, d.model_version) for d in report.differences}
    assert kinds == {("missing", lost, version), ("unexpected", forged, 99)}


def test_replay_of_a_range_uses_the_history_before_it(engine: Engine) -> None:
    build_workload(engine, logreg_challenger=False)
    with engine.connect() as conn:
        positions = list(conn.execute(sa.select(predictions.c.position).where(predictions.c.champion)
                                      .order_by(predictions.c.position)).scalars())
    start, stop = positions[600], positions[900]
    report = replay(engine, ModelRegistry(engine, SECRET), start=start, stop=stop)
    assert report.reproduced and report.transactions == 301 and (report.start, report.stop) == (start, stop)


def snapshot_of_every_table(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(sa.select(table)).all()), key=repr)
                for table in metadata.sorted_tables}


def test_replay_and_backtest_write_nothing(engine: Engine, cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    work = build_workload(engine)
    before = snapshot_of_every_table(engine)

    def no_sending(*_args: Any) -> None:
        raise AssertionError("replay must never send an alert")

    for sink in (sinks.JsonLinesSink, sinks.WebhookSink, sinks.InMemorySink):
        monkeypatch.setattr(sink, "send", no_sending)
    assert main(["replay"]) == 0
    assert main(["replay", "--model-version", str(work.challenger_retrain)]) == 0
    assert main(["replay", "--model-version", "1", "--from", "100", "--to", "900", "--json"]) == 0
    assert snapshot_of_every_table(engine) == before
    with pytest.raises(StoreError), read_only_snapshot(engine) as conn:  # the database itself refuses
        conn.execute(sa.delete(labels))


def test_backtest_sets_a_version_beside_what_the_champions_did(engine: Engine) -> None:
    work = build_workload(engine)
    registry = ModelRegistry(engine, SECRET)
    # From the first streamed transaction: before it lies the imported history, which no champion scored.
    report = backtest(engine, registry, work.challenger_retrain, start=work.first_position)
    assert report.candidate["predictions"] == len(work.rows)
    truth = {body["transaction_id"]: y for body, y in work.rows[:720] + work.rows[800:1_100]}
    for body, y in work.rows[:15] + work.rows[700:705]:  # the corrections are the latest verdicts
        truth[body["transaction_id"]] = not y
    with engine.connect() as conn:
        served = conn.execute(sa.select(predictions.c.transaction_id, predictions.c.score)
                              .where(predictions.c.champion)).all()
        # Transactions alerted, each covered by one (coalesced) alert: what the candidate's count compares with.
        raised = int(conn.execute(sa.select(sa.func.count()).select_from(alert_members)).scalar_one())
    labelled = [(score, truth[tx]) for tx, score in served if tx in truth]
    assert report.champions["labels"] == report.candidate["labels"] == len(labelled) == 1_020
    assert report.champions["roc_auc"] == roc_auc([s for s, _ in labelled], [y for _, y in labelled])
    assert report.champions["alerts"] == raised and set(report.per_champion) == {1, work.champion_retrain}
    assert 0 < report.candidate["alerts"] < len(work.rows) and 0.0 < report.candidate["roc_auc"] < 1.0
    trained = registry.get(work.challenger_retrain).training_data
    assert report.in_training_range == sum(
        1 for p in _transaction_positions(engine)
        if max(trained.first_position, work.first_position) <= p <= trained.last_position)


def _transaction_positions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(events.c.position).where(events.c.event_type == "transaction")).scalars())


def test_replay_refuses_a_tampered_artifact_naming_its_version(
        engine: Engine, cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    work = build_workload(engine, logreg_challenger=False)
    tamper_artifact(engine, work.champion_retrain)
    assert main(["replay"]) == 1
    assert f"model version {work.champion_retrain}: artifact SHA-256 check failed" in capsys.readouterr().err


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with api_client(settings) as client:
        yield client


def test_transaction_view_shows_lineage_and_whether_replay_reproduces_each_prediction(
        client: TestClient[Any]) -> None:
    engine = services_of(client.app).engine
    work = build_workload(engine)
    tx = work.rows[1_000][0]["transaction_id"]
    view = client.get(f"/v1/transactions/{tx}").json()
    by_version = {p["model_version"]: p for p in view["predictions"]}
    assert set(by_version) == {2, work.champion_retrain, work.challenger_retrain}
    assert all(p["reproduced"] is True and p["replay_differences"] == [] for p in by_version.values())
    lineage = by_version[work.challenger_retrain]["lineage"]
    version = ModelRegistry(engine, SECRET).get(work.challenger_retrain)
    assert lineage == {
        "version": version.version, "parent_version": work.champion_retrain, "model_spec": "hst",
        "training_range": {"source": "log", "first_position": version.training_data.first_position,
                           "last_position": version.training_data.last_position},
        "artifact_sha256": version.artifact_sha256, "created_at": lineage["created_at"]}
    alter_one_score(engine, tx)
    changed = {p["model_version"]: p for p in client.get(f"/v1/transactions/{tx}").json()["predictions"]}
    assert changed[work.champion_retrain]["reproduced"] is False
    assert changed[work.champion_retrain]["replay_differences"] == ["score"]
    assert changed[work.challenger_retrain]["reproduced"] is True


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_replay_memory_stays_flat_as_the_log_grows(engine: Engine) -> None:
    """The peak of traced allocations while replaying 60,000 events is no larger than for 12,000 (60 chunks of
    1,000 against 12): nothing grows with the log."""
    install_version(engine)
    history = EventLog(engine).count("transaction")
    registry = ModelRegistry(engine, SECRET)
    scorer = Scorer(engine, registry)
    rows = synthetic_rows(60_000, seed=71, cards=200)
    positions: list[int] = []
    for start in range(0, len(rows), 5_000):
        positions += append_transactions(engine, rows[start : start + 5_000])
    score_in_batches(scorer, positions, size=1_000)
    replay(engine, registry, stop=positions[2_000])  # warm up: artifacts loaded, statements compiled
    peaks = {}
    for n in (12_000, 60_000):
        tracemalloc.start()
        report = replay(engine, registry, stop=positions[n - 1])
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert report.reproduced and report.transactions == history + n
    assert peaks[60_000] < 1.2 * peaks[12_000], peaks


def champion_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)
                                .where(predictions.c.champion)).scalar_one())


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_replay_reproduces_a_workload_scored_by_a_worker_killed_mid_stream(
        engine: Engine, database_url: str, rabbitmq_url: str, cli_env: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """As above, but the crash is real: a worker process on RabbitMQ, SIGKILLed while it scores."""

    def kill_a_real_worker(engine: Engine, registry: ModelRegistry, positions: list[int]) -> None:
        more = [({**body, "transaction_id": f"w-{body['transaction_id']}"}, y)
                for body, y in synthetic_rows(6_000, seed=65, cards=25)]
        expected = champion_count(engine) + len(positions) + len(append_transactions(engine, more))
        first = start_worker(database_url, rabbitmq_url)  # it sweeps on start: every unscored event
        wait_until(lambda: champion_count(engine) > expected - len(more) - len(positions), timeout=60,
                   message="the worker's first predictions")
        kill(first, signal.SIGKILL)
        assert champion_count(engine) < expected, "the worker must die mid-stream for this test to mean anything"
        with worker(database_url, rabbitmq_url):
            wait_until(lambda: champion_count(engine) >= expected, timeout=120, message="every event scored")
        assert champion_count(engine) == expected

    work = build_workload(engine, crash=kill_a_real_worker)
    report = replay(engine, ModelRegistry(engine, SECRET))
    assert report.reproduced and report.checked == work.predictions, [d.to_dict() for d in report.differences]
    altered, _ = some_champion_prediction(engine, offset=3_000)
    alter_one_score(engine, altered)
    assert main(["replay"]) == 1
    assert f"different: transaction {altered}" in capsys.readouterr().out

