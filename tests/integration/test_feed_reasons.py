"""The prediction feed and stream with `?explain=true` (issue 28): each alert's stored reasons, null for a
prediction that did not alert, and neither reasons nor features for a consumer that did not ask, even while
another consumer of the same shared reader asks."""

from __future__ import annotations

import threading
from typing import Any

import msgspec
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine

from fraudlog.client import FraudlogClient, PredictionItem
from fraudlog.config import Settings
from fraudlog.domain.records import Reason
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.tables import predictions
from tests.support.api import api_client, served_api
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import wait_until
from tests.support.workload import score_in_batches


def stored_reasons(engine: Engine) -> dict[str, list[Reason] | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(predictions.c.transaction_id, predictions.c.reasons)
                            .where(predictions.c.champion)).all()
    return {tx: None if reasons is None else msgspec.convert(
        (msgspec.json.decode(reasons) if isinstance(reasons, str) else reasons)["reasons"], list[Reason])
        for tx, reasons in rows}


def scored(engine: Engine, count: int = 200) -> None:
    install_version(engine, alert_rate=0.1)
    positions = append_transactions(engine, synthetic_rows(count, seed=43, cards=20))
    score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)), positions)


def test_the_feed_with_explain_carries_each_alerts_stored_reasons(engine: Engine, database_url: str) -> None:
    scored(engine)
    expected = stored_reasons(engine)
    assert sum(reasons is not None for reasons in expected.values()) >= 5  # alerts, with reasons
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        explained = client.get("/v1/predictions", params={"after": "0", "limit": 1000, "explain": "true"}).json()
        plain = client.get("/v1/predictions", params={"after": "0", "limit": 1000}).json()
    assert len(explained["items"]) == len(expected) == len(plain["items"])
    for item in explained["items"]:
        reasons = expected[item["transaction_id"]]
        assert item["reasons"] == (None if reasons is None else msgspec.to_builtins(reasons))
        assert (item["reasons"] is not None) == item["is_alert"]
    assert all("reasons" not in item for item in plain["items"])


def follow(url: str, received: list[PredictionItem], **filters: Any) -> None:
    for item in FraudlogClient(url).follow(after=None, **filters):  # from now: live, through the shared reader
        received.append(item)


def open_streams() -> float:
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "fraudlog_stream_consumers"
               for sample in metric.samples)


def test_a_stream_consumer_gets_reasons_only_when_it_asked(engine: Engine, database_url: str) -> None:
    install_version(engine, alert_rate=0.1)
    with served_api(Settings(database_url=database_url, secret_key=SECRET)) as url:
        asked: list[PredictionItem] = []
        not_asked: list[PredictionItem] = []
        before = open_streams()  # the gauge is this process's: other tests' streams may be open
        for received, filters in ((asked, {"explain": True, "features": True}), (not_asked, {})):
            threading.Thread(target=follow, args=(url, received), kwargs=filters, daemon=True).start()
        wait_until(lambda: open_streams() >= before + 2, timeout=30, message="both consumers connected")
        positions = append_transactions(engine, synthetic_rows(100, seed=44, cards=20))
        score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)), positions)
        wait_until(lambda: len(asked) == len(not_asked) == 100, timeout=30, message="both consumers have all")
    alerts = [item for item in asked if item.is_alert]
    assert alerts and all(item.reasons for item in alerts)
    assert all(item.reasons is None for item in asked if not item.is_alert)
    assert all(item.reasons is msgspec.UNSET and item.features is None for item in not_asked)
    assert all(item.features for item in asked)
