"""Alert delivery survives a receiver outage of many minutes with the shipped retry schedule.

The relay's clock is simulated (`deliver_pending(clock=...)`): ten minutes of outage and the backoff after it
run in seconds, against a real webhook receiver and the real outbox on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from fraudlog.alerts.relay import deliver_pending
from fraudlog.alerts.sinks import WebhookSink
from fraudlog.config import RelaySettings
from fraudlog.metrics.database import DatabaseFigures, database_families
from fraudlog.store.outbox import FAILED, PENDING, SENT, alert_id_for, count_by_status, mark_sent
from fraudlog.store.stats import collect_stats
from tests.integration.test_relay import SECRET, seed_alerts
from tests.support.receiver import WebhookReceiver

POLL = timedelta(seconds=5)  # how far the simulated clock moves between two relay runs


class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, step: timedelta) -> None:
        self.now += step


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as running:
        yield running


def test_a_receiver_down_for_ten_minutes_loses_no_alert_and_needs_no_manual_retry(
        engine: Engine, receiver: WebhookReceiver) -> None:
    """The reproduction of issue 27 #4, longer: 40 alerts made while the receiver answers 503 for 10 minutes.
    With the default schedule, each is delivered once after the outage, none ends `failed`."""
    ids = seed_alerts(engine, 40)
    defaults = RelaySettings()
    clock = SimulatedClock(datetime.now(UTC))
    outage_ends = clock.now + timedelta(minutes=10)
    give_up_waiting = outage_ends + defaults.max_delay + POLL  # no wait of the schedule is longer than max_delay
    receiver.go_down()
    gave_up = 0
    sink = WebhookSink(receiver.url, SECRET, timeout=2.0)
    try:
        while count_by_status(engine)[PENDING] and clock.now <= give_up_waiting:
            if clock.now >= outage_ends:
                receiver.come_up()
            gave_up += deliver_pending(engine, sink, clock=clock).gave_up
            clock.advance(POLL)
    finally:
        sink.close()

    assert count_by_status(engine) == {PENDING: 0, SENT: 40, FAILED: 0}
    assert gave_up == 0
    # The schedule's wait at the outage's end is at most ~640 s (docs/hardening.md: "about eleven minutes").
    assert clock.now - outage_ends <= timedelta(minutes=11) + POLL
    assert sorted(receiver.delivered_keys) == sorted(alert_id_for(tx) for tx in ids)
    assert all(count == 1 for count in receiver.requests_by_key.values())  # each reached the customer once


def oldest_undelivered_age(engine: Engine, now: datetime) -> float:
    """What `/metrics` exports as fraudlog_alerts_oldest_pending_age_seconds at `now`."""
    families = database_families(DatabaseFigures(collect_stats(engine, now=now)))
    (family,) = [f for f in families if f.name == "fraudlog_alerts_oldest_pending_age_seconds"]
    (sample,) = family.samples
    return float(sample.value)


def test_the_age_of_the_oldest_undelivered_alert_is_exported_until_it_is_delivered(engine: Engine) -> None:
    ids = seed_alerts(engine, 3)  # made 10 s ago, a millisecond apart
    now = datetime.now(UTC)
    assert oldest_undelivered_age(engine, now + timedelta(minutes=10)) >= 600 + 9
    mark_sent(engine, [alert_id_for(ids[0])], now)
    assert oldest_undelivered_age(engine, now) >= 9  # the next oldest
    mark_sent(engine, [alert_id_for(tx) for tx in ids], now)
    assert oldest_undelivered_age(engine, now) == 0.0
