"""Drift detection in the log (issue 26), on real SQLite and Postgres.

- a detection is recorded once, however many watchers run at once or again (retries, restarts);
- the version a detection triggers names it in its lineage, and the detection names the version;
- replaying the log finds the same detections, bit for bit;
- a stream whose relation between features and fraud does not change records no performance detection.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.config import Settings
from fraudlog.domain.drift_settings import DriftParameters, DriftSettings
from fraudlog.domain.events import EVENT_DRIFT_DETECTION
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.lifecycle.retraining import retrain
from fraudlog.ml.specs import ModelSpec, spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.monitoring.drift import SIGNAL_PERFORMANCE
from fraudlog.monitoring.drift_job import DriftWatch
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.drift import list_detections
from fraudlog.store.lifecycle import LockBusy
from fraudlog.store.tables import events, model_versions
from fraudlog.views.models import model_detail
from tests.support.api import api_client
from tests.support.event_log import append_labels, append_transactions
from tests.support.models import SECRET, START

SPEC = spec_for("logreg", window=2_000)
SETTINGS = DriftSettings(cooldown=500, window=1_000, parameters=DriftParameters(
    rank_windows=(10, 30), min_reference=100, rank_reference=500, psi_window=300, check_every=100))
Rows = list[tuple[dict[str, Any], bool]]


def rows(n: int, *, seed: int, first: int, inverted: bool = False) -> Rows:
    """Transactions whose fraud probability rises with `signal` (falls, when `inverted`): about 5 % fraud."""
    rng = random.Random(seed)
    out = []
    for i in range(first, first + n):
        signal = rng.gauss(0.0, 1.0)
        logit = -4.0 + (-3.0 if inverted else 3.0) * signal
        body = {"transaction_id": f"tx-{i}", "card_id": f"card-{i % 50}",
                "event_time": (START + timedelta(seconds=30 * i)).isoformat(), "amount": round(rng.uniform(1, 200), 2),
                "attributes": {"signal": round(signal, 4), "noise": round(rng.gauss(0.0, 1.0), 4)}}
        out.append((body, rng.random() < 1.0 / (1.0 + math.exp(-logit))))
    return out


def serve(engine: Engine, registry: ModelRegistry, live: Rows, *, chunk: int = 250) -> None:
    """Append `live` in chunks, score each, and append each chunk's labels one chunk late."""
    scorer = Scorer(engine, registry)
    previous: Rows = []
    for start in range(0, len(live), chunk):
        part = live[start : start + chunk]
        scorer.score_positions(append_transactions(engine, part))
        if previous:
            append_labels(engine, previous)
        previous = part
    append_labels(engine, previous)


def champion_then(engine: Engine, *, inverted: bool, spec: ModelSpec = SPEC) -> ModelRegistry:
    """Version 1 serves 1,500 transactions of the relation it learned, then 2,000 of the inverted one (or of
    the same one): the detectors' baseline is the version's own early performance."""
    registry = ModelRegistry(engine, SECRET)
    train_first_version(registry, rows(1_500, seed=1, first=0), spec)
    serve(engine, registry, rows(1_500, seed=2, first=10_000) + rows(2_000, seed=3, first=20_000, inverted=inverted))
    return registry


def drift_events(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(p) for (p,) in conn.execute(sa.select(events.c.payload).where(
            events.c.event_type == EVENT_DRIFT_DETECTION).order_by(events.c.position))]


def versions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar_one())


def run_until_done(watch: DriftWatch) -> None:
    for _ in range(200):
        try:
            watch.run()
            return
        except LockBusy:
            threading.Event().wait(0.05)
    raise AssertionError("the lifecycle lock never came free")


def test_detection_is_recorded_once_under_concurrent_watchers_and_retries(engine: Engine) -> None:
    registry = champion_then(engine, inverted=True)
    watchers = [DriftWatch(ModelRegistry(engine, SECRET), SETTINGS) for _ in range(3)]
    threads = [threading.Thread(target=run_until_done, args=(w,)) for w in watchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorded = drift_events(engine)
    performance = [d for d in recorded if d["signal"] == SIGNAL_PERFORMANCE]
    assert performance, "the inverted relation was not detected"
    assert len({d["id"] for d in recorded}) == len(recorded)
    assert versions(engine) == 1 + sum(d["action"] == "retrain" for d in recorded)
    DriftWatch(ModelRegistry(engine, SECRET), SETTINGS).run()  # a restarted process replays the same stretch
    assert drift_events(engine) == recorded
    assert registry.assignments().current().champion == 1


def test_the_triggered_version_names_its_detection(engine: Engine) -> None:
    registry = champion_then(engine, inverted=True)
    DriftWatch(registry, SETTINGS).run()
    [retrained] = [d for d in drift_events(engine) if d["action"] == "retrain"]
    assert retrained["signal"] == SIGNAL_PERFORMANCE
    version = retrained["retrained_version"]
    trigger = registry.get(version).trigger
    assert trigger is not None and trigger["kind"] == "drift" and trigger["detection"] == retrained["id"]
    assert model_detail(registry, version).trigger == trigger
    assert registry.get(1).trigger == {"kind": "first"}
    assert registry.assignments().status_of(version) == "challenger"
    later = [d for d in drift_events(engine) if d["position"] > retrained["position"]
             and d["signal"] == SIGNAL_PERFORMANCE]
    assert all(d["action"] == "none" and d["why"] for d in later)
    # The next scheduled retrain keeps to the transactions since the drift-triggered window began.
    serve(engine, registry, rows(300, seed=4, first=30_000, inverted=True))
    scheduled = retrain(registry)
    assert scheduled is not None
    record = registry.get(scheduled.version)
    assert record.trigger is not None and record.trigger["kind"] == "schedule"
    assert (record.training_data.first_position or 0) >= trigger["window_from"]
    if "window_from" in record.trigger:  # still narrower than the spec's window: the line keeps growing
        assert record.trigger == {"kind": "schedule", "window_from": trigger["window_from"],
                                  "base_window": trigger["base_window"]}


def test_the_triggered_version_learns_from_the_change_on_and_catches_up(engine: Engine) -> None:
    """The drift-triggered version's window starts at the change its detection dates, not before; once the
    log holds as many transactions again, the watch retrains on its own (catch-up), the window still starting
    there. Without catch-up, nothing more is trained. (A spec window wider than the stretch since the change,
    so the drift-triggered line is still growing.)"""
    registry = champion_then(engine, inverted=True, spec=spec_for("logreg", window=8_000))
    DriftWatch(registry, SETTINGS).run()
    [retrained] = [d for d in drift_events(engine) if d["action"] == "retrain"]
    drift_version = registry.get(retrained["retrained_version"])
    change_from = retrained["details"]["change_from"]
    with engine.connect() as conn:
        since_change = conn.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.event_type == "transaction", events.c.position >= change_from,
            events.c.position <= drift_version.watermark)).scalar_one()
    assert drift_version.training_data.event_count == since_change  # every transaction since, none before
    assert (drift_version.training_data.first_position or 0) >= change_from
    held = drift_version.training_data.event_count or 0
    serve(engine, registry, rows(held // 2, seed=5, first=40_000, inverted=True))
    DriftWatch(registry, replace(SETTINGS, catch_up=True)).run()
    assert versions(engine) == drift_version.version, "caught up before the data since the change doubled"
    serve(engine, registry, rows(held, seed=6, first=50_000, inverted=True))
    DriftWatch(registry, replace(SETTINGS, catch_up=False)).run()
    assert versions(engine) == drift_version.version
    DriftWatch(registry, replace(SETTINGS, catch_up=True)).run()
    assert versions(engine) == drift_version.version + 1
    caught_up = registry.get(drift_version.version + 1)
    assert caught_up.trigger is not None and caught_up.trigger["kind"] == "schedule"
    assert (caught_up.training_data.first_position or 0) >= (drift_version.training_data.first_position or 0)


def test_a_triggered_version_that_cannot_rank_leaves_the_detection_recorded(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trained on a short window, a version may not rank (ScoresCannotRank): the detection is still recorded
    once, with why, and the watch goes on rather than failing on every run."""
    from fraudlog.lifecycle.versions import ScoresCannotRank
    from fraudlog.monitoring import drift_job

    def cannot_rank(*args: Any, **kwargs: Any) -> Any:
        raise ScoresCannotRank("its best threshold would alert on 100 % of the window")

    monkeypatch.setattr(drift_job, "train_version", cannot_rank)
    registry = champion_then(engine, inverted=True)
    DriftWatch(registry, SETTINGS).run()
    performance = [d for d in drift_events(engine) if d["signal"] == SIGNAL_PERFORMANCE]
    assert performance and all(d["action"] == "none" for d in performance)
    assert "was not registered" in performance[0]["why"]
    assert versions(engine) == 1


def test_replay_reproduces_the_detections_bit_for_bit(engine: Engine) -> None:
    registry = champion_then(engine, inverted=True)
    DriftWatch(registry, SETTINGS).run(act=False)
    recorded = [detection for _, detection in reversed(list_detections(engine))]
    assert recorded
    replayed = DriftWatch(ModelRegistry(engine, SECRET), SETTINGS).detect()
    # Compared in the log's canonical form (sorted keys): Postgres' JSONB hands keys back in its own order.
    assert [msgspec.json.encode(d, order="sorted") for d in replayed] == [
        msgspec.json.encode(d, order="sorted") for d in recorded]


def test_a_stationary_stream_records_no_performance_detection(engine: Engine) -> None:
    registry = champion_then(engine, inverted=False)
    DriftWatch(registry, SETTINGS).run()
    assert [d for d in drift_events(engine) if d["signal"] == SIGNAL_PERFORMANCE] == []
    assert versions(engine) == 1


def test_drift_endpoint_lists_the_detections_newest_first(engine: Engine, database_url: str) -> None:
    registry = champion_then(engine, inverted=True)
    DriftWatch(registry, SETTINGS).run()
    recorded = drift_events(engine)
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        page = client.get("/v1/drift").json()
        assert [d["id"] for d in page["items"]] == [d["id"] for d in reversed(recorded)]
        retrained = next(d for d in page["items"] if d["action"] == "retrain")
        assert client.get(f"/v1/models/{retrained['retrained_version']}").json()["trigger"]["detection"] == \
            retrained["id"]
        assert client.get("/v1/drift", params={"model_version": 99}).json() == {"items": []}
        bad = client.get("/v1/drift", params={"limit": 0})
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_drift_command_prints_the_detections(engine: Engine, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudlog.cli import main

    champion_then(engine, inverted=True)
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("FRAUDLOG_DRIFT_RANK_WINDOWS", "10,30")
    monkeypatch.setenv("FRAUDLOG_DRIFT_MIN_REFERENCE", "100")
    monkeypatch.setenv("FRAUDLOG_DRIFT_RANK_REFERENCE", "500")
    assert main(["drift", "run", "--watch-only"]) == 0
    capsys.readouterr()
    assert main(["drift", "--json"]) == 0
    printed = msgspec.json.decode(capsys.readouterr().out)
    assert printed and printed[0]["position"] >= printed[-1]["position"]
    assert {d["signal"] for d in printed} >= {SIGNAL_PERFORMANCE}
