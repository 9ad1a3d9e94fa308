"""Alert delivery end to end: the outbox, the relay, a signed webhook and a real deduplicating receiver.

"Exactly once" is judged where the customer stands: by what the receiver delivered, per Idempotency-Key.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from service.alerts.relay import RelaySettings, deliver_pending, sink_from_settings, webhook_secret
from service.alerts.sinks import (
    DeliveryFailed,
    InMemorySink,
    JsonLinesSink,
    WebhookSink,
    sink_from_url,
)
from service.config import ConfigError, Settings
from service.store.engine import write_transaction
from service.store.outbox import (
    FAILED,
    PENDING,
    SENT,
    alert_for_transaction,
    alert_id_for,
    count_by_status,
    insert_alert,
    list_alerts,
    retry_alert,
)
from service.store.tables import alerts
from tests.support.processes import wait_until
from tests.support.receiver import WebhookReceiver

SECRET = b"whsec-test-0123456789"
SHORT_LEASE = timedelta(seconds=0.5)
FAST_RETRY: dict[str, Any] = {"base_delay": timedelta(seconds=0.05), "max_delay": timedelta(seconds=0.2)}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as running:
        yield running


@pytest.fixture
def webhook(receiver: WebhookReceiver) -> Iterator[WebhookSink]:
    sink = WebhookSink(receiver.url, SECRET, timeout=2.0)
    yield sink
    sink.close()


def seed_alerts(engine: Engine, count: int) -> list[str]:
    """`count` due alerts with distinct creation times, oldest first; returns their transaction ids."""
    start = datetime.now(UTC) - timedelta(seconds=10)
    ids = [f"tx-{i:05d}" for i in range(count)]
    with write_transaction(engine) as conn:
        for i, transaction_id in enumerate(ids):
            insert_alert(conn, transaction_id=transaction_id, card_id=f"card-{i % 7}", score=0.97, threshold=0.8,
                         model_version=1, position=i + 1, created_at=start + timedelta(milliseconds=i))
    return ids


class RelayCrashed(Exception):
    """The process died: raised after the receiver took the alert, before the relay could record it."""


class CrashAfterSending:
    def __init__(self, inner: WebhookSink, crash_on: int) -> None:
        self.inner, self.crash_on, self.sends = inner, crash_on, 0

    def send(self, alert: dict[str, Any]) -> None:
        self.inner.send(alert)
        self.sends += 1
        if self.sends == self.crash_on:
            raise RelayCrashed

    def close(self) -> None:
        self.inner.close()


# -- (1) a relay dies between the receiver's answer and sent_at ----------------------------------------

def test_a_relay_that_dies_after_sending_is_resent_with_the_same_key_and_delivered_once(
        engine: Engine, receiver: WebhookReceiver, webhook: WebhookSink) -> None:
    first, in_flight, untouched = seed_alerts(engine, 3)

    with pytest.raises(RelayCrashed):
        deliver_pending(engine, CrashAfterSending(webhook, crash_on=2), visibility_timeout=SHORT_LEASE)

    assert receiver.delivered_keys == [alert_id_for(first), alert_id_for(in_flight)]
    states = {tx: alert_for_transaction(engine, tx) for tx in (first, in_flight, untouched)}
    assert {tx: (a.status, a.sent_at is None) for tx, a in states.items() if a} == {
        first: (SENT, False), in_flight: (PENDING, True), untouched: (PENDING, True)}

    # Another relay right away finds nothing: the dead relay's lease still holds both unsent alerts.
    assert deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE).sent == 0
    time.sleep(SHORT_LEASE.total_seconds() + 0.1)
    assert deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE).sent == 2

    assert receiver.requests_by_key[alert_id_for(in_flight)] == 2  # sent twice, same Idempotency-Key ...
    assert receiver.delivered_keys == [alert_id_for(tx) for tx in (first, in_flight, untouched)]  # ... once
    assert count_by_status(engine) == {PENDING: 0, SENT: 3, FAILED: 0}


def test_a_lost_acknowledgement_is_retried_and_the_receiver_delivers_once(
        engine: Engine, receiver: WebhookReceiver, webhook: WebhookSink) -> None:
    (transaction_id,) = seed_alerts(engine, 1)
    receiver.lose_next_acks(1)

    report = deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE, **FAST_RETRY)
    assert (report.sent, report.failed_attempts) == (0, 1)
    wait_until(lambda: count_by_status(engine)[SENT] == 1, timeout=10, interval=0.02, message="the relay",
               step=lambda: deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE, **FAST_RETRY))

    assert receiver.requests_by_key[alert_id_for(transaction_id)] == 2
    assert receiver.delivered_keys == [alert_id_for(transaction_id)]
    alert = alert_for_transaction(engine, transaction_id)
    assert alert is not None and alert.attempts == 1 and alert.last_error


# -- (2) two relay processes at once ---------------------------------------------------------------------

RELAY_PROCESS = textwrap.dedent("""
    import json, sys
    from datetime import timedelta
    from service.alerts.relay import deliver_pending
    from service.alerts.sinks import WebhookSink
    from service.store.engine import create_engine

    database_url, receiver_url, secret = sys.argv[1:4]
    engine = create_engine(database_url)
    engine.connect().close()
    sink = WebhookSink(receiver_url, secret.encode(), timeout=5.0)
    print("ready", flush=True)
    sys.stdin.readline()  # start together, so the claims really race
    report = deliver_pending(engine, sink, batch_size=25, visibility_timeout=timedelta(seconds=30))
    print(json.dumps({"sent": report.sent, "failed": report.failed_attempts}))
""")


@pytest.mark.slow
def test_two_relay_processes_deliver_every_alert_exactly_once(
        database_url: str, engine: Engine, receiver: WebhookReceiver) -> None:
    seed_alerts(engine, 1_000)
    relays = [subprocess.Popen([sys.executable, "-c", RELAY_PROCESS, database_url, receiver.url, SECRET.decode()],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    assert all(relay.stdout and relay.stdout.readline().strip() == "ready" for relay in relays)
    for relay in relays:  # both are connected and waiting: release them together
        assert relay.stdin
        relay.stdin.write("go\n")
        relay.stdin.flush()
    outputs = [relay.communicate(timeout=60) for relay in relays]

    assert [relay.returncode for relay in relays] == [0, 0], [err for _out, err in outputs]
    reports = [json.loads(out) for out, _err in outputs]
    assert all(report["sent"] > 0 for report in reports), reports  # both relays really took part
    assert sum(report["sent"] for report in reports) == 1_000
    assert receiver.raw_requests == 1_000  # no double send at all, not merely none that got through
    assert len(receiver.delivered) == 1_000
    assert count_by_status(engine) == {PENDING: 0, SENT: 1_000, FAILED: 0}


# -- (3) the receiver is down for a while ----------------------------------------------------------------

def test_alerts_back_off_while_the_receiver_is_down_and_all_arrive_once_it_is_back(
        engine: Engine, receiver: WebhookReceiver, webhook: WebhookSink) -> None:
    ids = seed_alerts(engine, 10)
    receiver.go_down()
    before = datetime.now(UTC)

    report = deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE, max_attempts=50,
                             rng=random.Random(3), **FAST_RETRY)

    assert (report.sent, report.failed_attempts) == (0, 10)
    waiting = list_alerts(engine, status=PENDING).items
    assert len(waiting) == 10 and all(a.attempts == 1 and "HTTP 503" in (a.last_error or "") for a in waiting)
    assert all(_available_at(engine, a.transaction_id) > before for a in waiting)
    assert receiver.delivered == {}

    receiver.come_up()
    wait_until(lambda: count_by_status(engine)[SENT] == 10, timeout=10, interval=0.02, message="the relay",
               step=lambda: deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE, max_attempts=50,
                                            **FAST_RETRY))

    assert sorted(receiver.delivered_keys) == sorted(alert_id_for(tx) for tx in ids)
    assert all(count == 1 for count in receiver.requests_by_key.values())


def test_an_alert_that_keeps_failing_ends_as_failed_and_can_be_retried(
        engine: Engine, receiver: WebhookReceiver, webhook: WebhookSink) -> None:
    ids = seed_alerts(engine, 3)
    receiver.go_down()
    gave_up = 0

    def relay_run() -> None:
        nonlocal gave_up
        gave_up += deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE, max_attempts=3,
                                   base_delay=timedelta(seconds=0.01), max_delay=timedelta(seconds=0.02)).gave_up

    wait_until(lambda: count_by_status(engine)[FAILED] == 3, timeout=10, interval=0.02, message="the relay",
               step=relay_run)

    assert gave_up == 3
    failed = list_alerts(engine, status=FAILED).items  # what /v1/alerts?status=failed shows
    assert sorted(a.transaction_id for a in failed) == ids
    assert all(a.attempts == 3 and (a.last_error or "").startswith("HTTP 503") for a in failed)
    assert receiver.delivered == {}

    receiver.come_up()
    assert all(retry_alert(engine, a.alert_id) for a in failed)
    assert deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE).sent == 3
    assert len(receiver.delivered) == 3


# -- (4) signatures, end to end --------------------------------------------------------------------------

def test_a_webhook_signed_with_another_secret_is_refused_by_the_receiver(
        engine: Engine, receiver: WebhookReceiver) -> None:
    seed_alerts(engine, 1)
    forger = WebhookSink(receiver.url, b"not-the-shared-secret", timeout=2.0)

    report = deliver_pending(engine, forger, visibility_timeout=SHORT_LEASE, **FAST_RETRY)
    forger.close()

    assert (report.sent, report.failed_attempts) == (0, 1)
    assert receiver.rejected_signatures == 1 and receiver.delivered == {}
    assert "HTTP 401" in (list_alerts(engine).items[0].last_error or "")


# -- other sinks and settings ----------------------------------------------------------------------------

def test_the_json_lines_sink_gets_one_line_per_alert_with_the_outbox_payload(engine: Engine, tmp_path: Path,
                                                                            ) -> None:
    ids = seed_alerts(engine, 5)
    path = tmp_path / "out" / "alerts.jsonl"
    sink = sink_from_url(f"jsonl://{path}", SECRET)
    assert isinstance(sink, JsonLinesSink)

    assert deliver_pending(engine, sink).sent == 5
    sink.close()

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["transaction_id"] for line in lines] == ids
    assert lines[0] == {"alert_id": alert_id_for(ids[0]), "transaction_id": ids[0], "card_id": "card-0",
                        "score": 0.97, "threshold": 0.8, "model_version": 1, "created_at": lines[0]["created_at"]}


def test_the_in_memory_sink_can_be_told_to_fail(engine: Engine) -> None:
    seed_alerts(engine, 2)
    sink = InMemorySink(fail_times=1)

    report = deliver_pending(engine, sink, batch_size=1, **FAST_RETRY)

    # The first batch failed, so the run stopped: a failing sink is left to the backoff.
    assert (report.sent, report.failed_attempts, sink.attempts, sink.sent) == (0, 1, 1, [])
    assert deliver_pending(engine, sink, batch_size=1, max_batches=1).sent == 1


@pytest.mark.parametrize("url", ["ftp://example.test/", "jsonl://", "memory", "https"])
def test_sink_urls_other_than_jsonl_http_and_memory_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="FRAUDLOG_ALERT_SINK"):
        sink_from_url(url, SECRET)


def test_a_webhook_that_cannot_connect_fails_with_a_one_line_reason() -> None:
    sink = WebhookSink("http://127.0.0.1:9/hook", SECRET, timeout=1.0)  # the discard port: refused
    with pytest.raises(DeliveryFailed) as failure:
        sink.send({"alert_id": "a"})
    sink.close()
    assert "\n" not in str(failure.value) and "ConnectError" in str(failure.value)


def test_relay_settings_come_from_the_environment() -> None:
    assert RelaySettings.from_env({}) == RelaySettings()
    settings = RelaySettings.from_env({"FRAUDLOG_ALERT_MAX_ATTEMPTS": "3", "FRAUDLOG_ALERT_BASE_DELAY": "0.05s",
                                       "FRAUDLOG_ALERT_MAX_DELAY": "2", "FRAUDLOG_ALERT_VISIBILITY_TIMEOUT": "15"})
    assert (settings.max_attempts, settings.base_delay, settings.max_delay, settings.visibility_timeout) == (
        3, timedelta(seconds=0.05), timedelta(seconds=2), timedelta(seconds=15))
    with pytest.raises(ConfigError, match="FRAUDLOG_ALERT_MAX_ATTEMPTS"):
        RelaySettings.from_env({"FRAUDLOG_ALERT_MAX_ATTEMPTS": "0"})
    with pytest.raises(ConfigError, match="FRAUDLOG_ALERT_BASE_DELAY"):
        RelaySettings.from_env({"FRAUDLOG_ALERT_BASE_DELAY": "soon"})
    with pytest.raises(ConfigError, match="shorter than"):  # a send must not outlive its lease
        RelaySettings.from_env({"FRAUDLOG_ALERT_TIMEOUT": "30", "FRAUDLOG_ALERT_VISIBILITY_TIMEOUT": "30"})


def test_the_webhook_secret_is_used_by_the_sink_the_settings_build(receiver: WebhookReceiver,
                                                                   engine: Engine) -> None:
    settings = Settings(secret_key=b"artifact-key", alert_sink=receiver.url)
    receiver.secret = webhook_secret(settings, {})  # what the operator pastes into the receiver
    seed_alerts(engine, 1)

    sink = sink_from_settings(settings, RelaySettings(), {})
    assert deliver_pending(engine, sink).sent == 1
    sink.close()
    assert len(receiver.delivered) == 1


def _available_at(engine: Engine, transaction_id: str) -> datetime:
    with engine.connect() as conn:
        return conn.execute(alerts.select().with_only_columns(alerts.c.available_at)
                            .where(alerts.c.transaction_id == transaction_id)).scalar_one()
