"""One customer alert per card per window of event time (invariant 19): the same alerts and members whatever
the scoring order, however many workers, in a rebuild; a transaction that joins after a relay took its alert
goes out once, as an update of that alert."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.domain.alert_window import AlertWindow
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.rebuild import rebuild
from fraudlog.scoring.scorer import Scorer
from fraudlog.store import migrate
from fraudlog.store.engine import create_engine, write_transaction
from fraudlog.store.outbox import (
    EVENT_TYPE,
    UPDATE_TYPE,
    alert_id_for,
    claim_pending_alerts,
    coalesced_rows,
    insert_alert_members,
    insert_alert_rows,
    list_alerts,
    mark_sent,
)
from fraudlog.store.tables import alert_members, alerts, predictions
from fraudlog.views.alerts import alerts_page
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows

WINDOW = AlertWindow(timedelta(minutes=15))
LEASE = timedelta(seconds=60)
T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def expected_members(engine: Engine, window: AlertWindow) -> dict[str, str]:
    """transaction id -> alert id, computed from the champion's stored scores by the rule alone."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(predictions.c.transaction_id, predictions.c.event_time, alerts_card())
                            .where(predictions.c.champion, predictions.c.score >= predictions.c.threshold)).all()
    return {tx: alert_id_for(window.alert_key(transaction_id=tx, card_id=card, event_time=event_time))
            for tx, event_time, card in rows}


def alerts_card() -> sa.ScalarSelect[str]:
    from fraudlog.store.tables import events
    return (sa.select(events.c.card_id).where(events.c.transaction_id == predictions.c.transaction_id,
                                              events.c.event_type == "transaction").scalar_subquery())


def members(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(alert_members.c.transaction_id, alert_members.c.alert_id)).all())


def opened_alerts(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(alerts.c.id, alerts.c.card_id)
                                               .where(alerts.c.type == EVENT_TYPE).order_by(alerts.c.id))]


def score_concurrently(engine: Engine, positions: list[int], workers: int, seed: int) -> None:
    """`workers` scorers take interleaved, shuffled slices of the burst at once: scoring order varies."""
    shuffled = positions[:]
    random.Random(seed).shuffle(shuffled)
    slices = [sorted(shuffled[i::workers]) for i in range(workers)]
    barrier = threading.Barrier(workers)

    def run(mine: list[int]) -> None:
        scorer = Scorer(engine, ModelRegistry(engine, SECRET), alert_window=WINDOW)
        barrier.wait()
        for start in range(0, len(mine), 7):
            scorer.score_positions(mine[start:start + 7])
        scorer.close()

    threads = [threading.Thread(target=run, args=(mine,)) for mine in slices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_workers_scoring_a_cards_burst_open_one_alert_per_window_covering_each_transaction(
        engine: Engine) -> None:
    install_version(engine, alert_rate=0.5)
    positions = append_transactions(engine, synthetic_rows(240, seed=21, cards=3))
    score_concurrently(engine, positions, workers=4, seed=1)

    expected = expected_members(engine, WINDOW)
    assert len(expected) > len(set(expected.values())) > 1  # bursts coalesced, and more than one alert
    assert members(engine) == expected  # every alerting transaction covered once, by its window's alert
    opened = opened_alerts(engine)
    assert sorted(alert_id for alert_id, _ in opened) == sorted(set(expected.values()))  # one alert each, no more


def test_scoring_order_does_not_change_the_alerts_nor_their_members(database_url: str, tmp_path: Path) -> None:
    runs = []
    for seed, workers in ((1, 1), (2, 3), (3, 4)):
        engine = create_engine(f"sqlite:///{tmp_path / f'order-{seed}.db'}") if seed > 1 else create_engine(
            database_url)
        migrate.upgrade(engine)
        try:
            install_version(engine, alert_rate=0.5)
            positions = append_transactions(engine, synthetic_rows(160, seed=22, cards=2))
            score_concurrently(engine, positions, workers=workers, seed=seed)
            runs.append((members(engine), opened_alerts(engine)))
        finally:
            engine.dispose()
    assert runs[0] == runs[1] == runs[2]


def test_a_rebuild_reproduces_the_alerts_and_their_members(engine: Engine, tmp_path: Path) -> None:
    install_version(engine, alert_rate=0.5)
    positions = append_transactions(engine, synthetic_rows(200, seed=23, cards=3))
    score_concurrently(engine, positions, workers=3, seed=5)
    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET, alert_window=WINDOW)
    target = create_engine(target_url)
    try:
        assert members(target) == members(engine) and members(engine)
        assert opened_alerts(target) == opened_alerts(engine)
    finally:
        target.dispose()


def raise_alerts(engine: Engine, *alerts_to_add: tuple[str, int, datetime]) -> None:
    """Store alerting transactions of card-1 as a scoring batch does (transaction id, position, event time)."""
    raised = [{"transaction_id": tx, "card_id": "card-1", "score": 0.9 + position / 1000, "threshold": 0.8,
               "model_version": 1, "position": position, "created_at": T0} for tx, position, _ in alerts_to_add]
    rows, new_members = coalesced_rows(raised, {tx: event_time for tx, _, event_time in alerts_to_add}, WINDOW)
    with write_transaction(engine) as conn:
        insert_alert_rows(conn, rows)
        insert_alert_members(conn, new_members)


def test_a_transaction_that_joins_after_the_alert_was_taken_is_delivered_once_as_its_update(engine: Engine) -> None:
    raise_alerts(engine, ("tx-1", 1, T0), ("tx-2", 2, T0 + timedelta(seconds=5)))
    [alert] = claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE)
    assert alert.payload["type"] == EVENT_TYPE
    assert [t["transaction_id"] for t in alert.payload["transactions"]] == ["tx-1", "tx-2"]

    raise_alerts(engine, ("tx-3", 3, T0 + timedelta(minutes=3)), ("tx-4", 4, T0 + timedelta(minutes=4)))
    raise_alerts(engine, ("tx-3", 3, T0 + timedelta(minutes=3)))  # a redelivered batch adds nothing
    mark_sent(engine, [alert.alert_id], T0)
    [update] = claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE)
    assert update.payload["type"] == UPDATE_TYPE
    assert update.payload["alert_id"] == alert.alert_id  # the same alert
    assert update.alert_id == update.payload["update_id"] != alert.alert_id  # its own message, its own webhook-id
    assert [t["transaction_id"] for t in update.payload["transactions"]] == ["tx-3", "tx-4"]
    mark_sent(engine, [update.alert_id], T0)
    assert claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE) == []
    assert len(opened_alerts(engine)) == 1
    # The outbox as GET /v1/alerts lists it: the alert and its update, told apart, each with what it covers.
    listed = {item.alert_id: item for item in alerts_page(list_alerts(engine)).items}
    assert (listed[alert.alert_id].type, listed[alert.alert_id].update_of,
            listed[alert.alert_id].transactions) == (EVENT_TYPE, None, 2)
    assert (listed[update.alert_id].type, listed[update.alert_id].update_of,
            listed[update.alert_id].transactions) == (UPDATE_TYPE, alert.alert_id, 2)


def test_a_resent_alert_keeps_its_body_and_a_later_joiner_becomes_an_update(engine: Engine) -> None:
    raise_alerts(engine, ("tx-1", 1, T0))
    now = datetime.now(UTC)
    [first] = claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE, now=now)
    raise_alerts(engine, ("tx-2", 2, T0 + timedelta(minutes=1)))
    # The lease runs out mid-send: the receiver may hold the first body, so the resend must be that same body.
    claimed = claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE, now=now + 2 * LEASE)
    resent = next(c for c in claimed if c.alert_id == first.alert_id)
    assert resent.payload == first.payload
    [update] = [c for c in claimed if c.alert_id != first.alert_id]
    assert [t["transaction_id"] for t in update.payload["transactions"]] == ["tx-2"]


def test_a_joiner_before_the_alert_is_taken_is_in_its_body_and_a_new_window_opens_a_new_alert(engine: Engine) -> None:
    raise_alerts(engine, ("tx-1", 1, T0), ("tx-2", 2, T0 + timedelta(minutes=14, seconds=59)),
                 ("tx-3", 3, T0 + timedelta(minutes=15)))
    claimed = claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE)
    assert sorted([t["transaction_id"] for t in c.payload["transactions"]] for c in claimed) == [
        ["tx-1", "tx-2"], ["tx-3"]]
    assert {c.payload["type"] for c in claimed} == {EVENT_TYPE}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_zero_window_gives_every_transaction_its_own_alert_with_the_id_it_always_had(engine: Engine) -> None:
    key = AlertWindow(timedelta(0)).alert_key(transaction_id="tx-9", card_id="card-1", event_time=T0)
    assert alert_id_for(key) == alert_id_for("tx-9")
