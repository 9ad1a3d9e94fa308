"""A transaction on which a model raises is recorded as a scoring failure after bounded attempts, and the rest of
its batch is scored; the failure is final for the sweeper and the feed, shown by the transaction's view, counted
on /metrics, recomputed by rebuild, and scored again by `fraudlog rescore` once the model is fixed (issue 27,
item 3)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.feed.watermark import FeedWatermark
from fraudlog.ml.specs import custom_spec
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import replay
from fraudlog.replay.rebuild import rebuild
from fraudlog.scoring.scorer import Scorer
from fraudlog.scoring.sweeper import Sweeper
from fraudlog.store.engine import create_engine
from fraudlog.store.scoring_failures import ATTEMPTS, failures_for
from fraudlog.store.tables import predictions, scoring_failures
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.poison import FACTORY, FIXED, POISON_AMOUNT

Rows = list[tuple[dict[str, Any], bool]]


def poisoned_batch(n: int = 20, *, seed: int = 41, poison_at: int = 7) -> Rows:
    rows = synthetic_rows(n, seed=seed)
    body, label = rows[poison_at]
    rows[poison_at] = ({**body, "amount": POISON_AMOUNT}, label)
    return rows


def install_poisoned_champion(engine: Engine) -> int:
    return install_version(engine, model="custom", **custom_spec(FACTORY).params)


def champion_predictions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions).where(predictions.c.champion))
                   .scalar_one())


def recorded_failures(engine: Engine) -> list[tuple[str, int, bool, int]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(  # type: ignore[misc]
            scoring_failures.c.transaction_id, scoring_failures.c.model_version, scoring_failures.c.champion,
            scoring_failures.c.attempts))]


def test_a_raising_model_fails_one_transaction_and_scores_the_other_nineteen(database_url: str,
                                                                              engine: Engine) -> None:
    version = install_poisoned_champion(engine)
    rows = poisoned_batch()
    positions = append_transactions(engine, rows)
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))
    report = scorer.score_positions(positions)
    assert (report.predictions, report.failed) == (19, 1)
    poison_id = rows[7][0]["transaction_id"]
    assert recorded_failures(engine) == [(poison_id, version, True, ATTEMPTS)]
    [failure] = failures_for(engine, poison_id)
    assert failure.error.startswith("ValueError: cannot score amount") and failure.position == positions[7]

    again = scorer.score_positions(positions)  # a redelivered message: nothing twice, nothing lost
    assert (again.predictions, champion_predictions(engine), len(recorded_failures(engine))) == (0, 19, 1)

    later = datetime.now(UTC) + timedelta(seconds=1)
    assert Sweeper(engine, ModelRegistry(engine, SECRET)).find_unscored(grace=timedelta(0), now=later) == []
    assert FeedWatermark(engine, ModelRegistry(engine, SECRET)).advance() == positions[-1]


def test_rescore_scores_a_failed_transaction_once_the_model_is_fixed(database_url: str, engine: Engine,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    install_poisoned_champion(engine)
    rows = poisoned_batch(seed=42)
    positions = append_transactions(engine, rows)
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(positions)
    for name in [n for n in os.environ if n.startswith("FRAUDLOG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())

    assert main(["rescore", "--failed"]) == 1  # still raising: recorded again, said so, non-zero
    assert "1 failed again" in capsys.readouterr().out
    assert len(recorded_failures(engine)) == 1

    monkeypatch.setenv(FIXED, "1")
    poison_id = rows[7][0]["transaction_id"]
    assert main(["rescore", poison_id]) == 0
    assert "1 scored, 0 failed again" in capsys.readouterr().out
    assert (champion_predictions(engine), recorded_failures(engine)) == (20, [])


def test_rescore_of_an_unknown_transaction_fails_in_one_line(database_url: str, engine: Engine,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    for name in [n for n in os.environ if n.startswith("FRAUDLOG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    assert main(["rescore", "no-such-transaction"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("fraudlog rescore: ") and "no-such-transaction" in err


def test_the_transaction_view_and_metrics_show_the_failure(database_url: str, engine: Engine) -> None:
    from fraudlog.config import Settings
    from tests.support.api import served_api

    install_poisoned_champion(engine)
    rows = poisoned_batch(seed=43)
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(append_transactions(engine, rows))
    settings = Settings(database_url=database_url, secret_key=SECRET, alert_sink="memory://")
    with served_api(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        body = client.get(f"/v1/transactions/{rows[7][0]['transaction_id']}").json()
        [failure] = body["scoring_failures"]
        assert failure["champion"] is True and failure["error"].startswith("ValueError")
        assert client.get(f"/v1/transactions/{rows[8][0]['transaction_id']}").json()["scoring_failures"] == []
        assert "fraudlog_scoring_failures 1.0" in client.get("/metrics").text


def test_replay_reproduces_and_rebuild_recreates_the_failures(database_url: str, engine: Engine,
                                                              tmp_path: Path) -> None:
    install_poisoned_champion(engine)
    rows = poisoned_batch(seed=44)
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(append_transactions(engine, rows))
    assert replay(engine, ModelRegistry(engine, SECRET)).reproduced

    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET)
    target = create_engine(target_url)
    try:
        assert recorded_failures(target) == recorded_failures(engine) != []
        assert champion_predictions(target) == champion_predictions(engine) == 19
        assert replay(target, ModelRegistry(target, SECRET)).reproduced
    finally:
        target.dispose()


@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.slow
def test_on_postgres_and_rabbitmq_a_raising_model_leaves_one_failure_and_nineteen_scored(
        pg_engine: Engine, pg_url: str, rabbitmq_url: str) -> None:
    """Issue 27 item 3's reproduction: POST 20 transactions, one of them the amount the champion raises on, to an
    API on Postgres and RabbitMQ with a real worker process."""
    from fraudlog.config import Settings
    from tests.support.api import served_api
    from tests.support.processes import wait_until, worker

    install_poisoned_champion(pg_engine)
    rows = poisoned_batch(seed=45)
    settings = Settings(database_url=pg_url, broker_url=rabbitmq_url, secret_key=SECRET, alert_sink="memory://",
                        queue_prefix=os.environ["FRAUDLOG_QUEUE_PREFIX"])
    with served_api(settings, background=True) as url, httpx.Client(base_url=url, timeout=60) as client, \
            worker(pg_url, rabbitmq_url):
        assert client.post("/v1/transactions", json=[body for body, _ in rows]).status_code == 202
        wait_until(lambda: champion_predictions(pg_engine) == 19 and len(recorded_failures(pg_engine)) == 1,
                   timeout=120, message="19 scored and one failure recorded")
        [(poison_id, _, champion, attempts)] = recorded_failures(pg_engine)
        assert (poison_id, champion, attempts) == (rows[7][0]["transaction_id"], True, ATTEMPTS)
        # The failure is final: the feed's cursor moves past it to the last of the 20.
        last = max(p["position"] for p in [client.get(f"/v1/transactions/{body['transaction_id']}").json()
                                           ["transaction"] for body, _ in rows])
        wait_until(lambda: int(client.get("/v1/predictions", params={"after": 0}).json()["next_cursor"]) >= last,
                   message="the feed's cursor to pass the failed transaction")
        items = client.get("/v1/predictions", params={"after": 0, "limit": 100}).json()["items"]
        assert len(items) == 19 and poison_id not in {i["transaction_id"] for i in items}
