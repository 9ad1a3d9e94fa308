"""The hot-card scenario (issue 27, defect 1): one card's burst against other cards' steady traffic, scored by a
real worker process, and other cards' scoring latency with and without the burst in the same run.

The burst is appended before the run and rung at once midway, so what is measured is what its scoring does to
other cards' scoring (`recorded_at` to `scored_at` of their champion predictions), not what appending 5,000
rows in one commit does to other appends. Shared by `tests/integration/test_hot_card.py` and `bench/hot_card.py`.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.config import Settings
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.ml.specs import spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.tables import predictions
from fraudlog.workers.process import start_broker
from fraudlog.workers.tasks import ring_score
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, synthetic_rows
from tests.support.processes import wait_until, worker

HOT_CARD = "hot-card"
CATEGORIES = ("merchant_id", "device_id", "mcc")
SECOND = timedelta(seconds=1)
WARM_UP = 1.0  # seconds of control traffic left out: the worker's first batches load the model


@dataclass(frozen=True)
class IsolationRun:
    control_p99: float  # seconds, other cards' scoring latency before the burst
    burst_p99: float  # the same, for the other cards' transactions recorded while the burst was scored
    others_during_burst: int
    burst_seconds: float  # from ringing the burst to the hot card's last prediction

    @property
    def ratio(self) -> float:
        return self.burst_p99 / self.control_p99


def hot_rows(count: int) -> list[tuple[dict[str, Any], bool]]:
    """`count` payments of one card within an hour, each with its own merchant, device and mcc."""
    template, _ = synthetic_rows(1, seed=61)[0]
    start = template["event_time"]
    rows = []
    for i in range(count):
        attributes = {**template["attributes"], "merchant_id": f"hot-m{i}", "device_id": f"hot-d{i}",
                      "mcc": f"{i % 9000:04d}"}
        rows.append(({**template, "transaction_id": f"hot-{i}", "card_id": HOT_CARD, "event_time": start,
                      "amount": 1.0 + i % 50, "attributes": attributes}, False))
    return rows


def install_categorical_champion(engine: Engine) -> int:
    registry = ModelRegistry(engine, SECRET)
    spec = spec_for("logreg").with_categories(CATEGORIES)
    return train_first_version(registry, synthetic_rows(400, seed=3), spec, id_prefix="h:", promote=True).version


def run_isolation(engine: Engine, database_url: str, broker_url: str, *, burst: int, per_tick: int = 5,
                  tick: float = 0.05, control_seconds: float = 5.0) -> IsolationRun:
    """Other cards post `per_tick` transactions every `tick` seconds (100/s by default) for `control_seconds`,
    then the `burst` is rung while they go on until it is scored."""
    install_categorical_champion(engine)
    hot_positions = append_transactions(engine, hot_rows(burst))
    others = iter(synthetic_rows(200_000, seed=62, cards=500))
    stop = threading.Event()
    # (monotonic time, wall time, positions) of each append, once committed: latency is counted from then, so
    # what is measured is scoring, not a slow append on a busy machine.
    appended: list[tuple[float, datetime, list[int]]] = []

    def traffic() -> None:
        serial = 0
        while not stop.is_set():
            rows = []
            for _ in range(per_tick):
                body, label = next(others)
                rows.append(({**body, "transaction_id": f"other-{serial}"}, label))
                serial += 1
            positions = append_transactions(engine, rows)
            appended.append((time.monotonic(), datetime.now(UTC), positions))
            ring_score(positions)
            stop.wait(tick)

    start_broker(Settings(database_url=database_url, broker_url=broker_url, secret_key=SECRET,
                          queue_prefix=os.environ["FRAUDLOG_QUEUE_PREFIX"]))
    # No sweeping: the burst waits, unrung, until the control phase is over.
    with worker(database_url, broker_url, FRAUDLOG_SWEEP_GRACE="3600"):
        # Traffic starts once the worker scores: its boot is not part of the control.
        ping = append_transactions(engine, [({**next(others)[0], "transaction_id": "ping"}, False)])
        ring_score(ping)
        wait_until(lambda: _champion_count(engine, ping) == 1, timeout=120, message="the worker scores")
        sender = threading.Thread(target=traffic, name="other-cards", daemon=True)
        started = time.monotonic()
        sender.start()
        time.sleep(max(0.0, started + control_seconds - time.monotonic()))
        rung = time.monotonic()
        ring_score(hot_positions)
        wait_until(lambda: _champion_count(engine, hot_positions) == burst, timeout=600, interval=0.2,
                   message="the burst scored")
        done = time.monotonic()
        stop.set()
        sender.join()
        every_other = [p for _, _, ps in appended for p in ps]
        wait_until(lambda: _champion_count(engine, every_other) == len(every_other), timeout=120,
                   message="the other cards scored")
    scored = _scored_at(engine, every_other)
    control = [(scored[p] - wall) / SECOND for at, wall, ps in appended if started + WARM_UP <= at < rung for p in ps]
    during = [(scored[p] - wall) / SECOND for at, wall, ps in appended if rung <= at <= done for p in ps]
    return IsolationRun(_p99(control), _p99(during), len(during), done - rung)


def _champion_count(engine: Engine, positions: list[int]) -> int:
    """Champion predictions between the least and the greatest of `positions` (cheap to poll): each kind of
    transaction here (the ping, the burst, the other cards') is appended as one run of positions."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions).where(
            predictions.c.champion, predictions.c.position.between(min(positions), max(positions)))).scalar_one())


def _scored_at(engine: Engine, positions: list[int]) -> dict[int, datetime]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(predictions.c.position, predictions.c.scored_at)
                            .where(predictions.c.champion, predictions.c.position.in_(positions))).all()
    return {position: scored for position, scored in rows}


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]
