"""Alert delivery end to end: the outbox, the relay, a signed webhook and a real deduplicating receiver.

"Exactly once" is judged where the customer stands: by what the receiver delivered, per Idempotency-Key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.engine import Engine

from fraudlog.alerts.relay import RelaySettings, deliver_pending, sink_from_settings, webhook_secret
from fraudlog.alerts.schedule import RetrySchedule
from fraudlog.alerts.sinks import (
    DeliveryFailed,
    InMemorySink,
    JsonLinesSink,
    WebhookSink,
    sink_from_url,
)
from fraudlog.composition import worker_services
from fraudlog.config import ConfigError, Settings
from fraudlog.store.engine import write_transaction
from fraudlog.store.outbox import (
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
from fraudlog.store.tables import alerts
from fraudlog.workers import tasks
from tests.support.processes import wait_until
from tests.support.receiver import WebhookReceiver

SECRET = b"whsec-test-0123456789"
SHORT_LEASE = timedelta(seconds=0.5)
FAST_RETRY: dict[str, Any] = {"schedule": RetrySchedule(base_delay=timedelta(seconds=0.05),
                                                       max_delay=timedelta(seconds=0.2))}


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


def relay_env(database_url: str, sink_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `fraudlog relay` process delivering to `sink_url` with the tests' secret."""
    return {**os.environ, "FRAUDLOG_DATABASE_URL": database_url, "FRAUDLOG_SECRET_KEY": "relay-test-secret-key",
            "FRAUDLOG_WEBHOOK_SECRET": SECRET.decode(), "FRAUDLOG_ALERT_SINK": sink_url,
            "FRAUDLOG_LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def relay_process(database_url: str, sink_url: str, **extra: str) -> Iterator[subprocess.Popen[str]]:
    """A real `fraudlog relay` process; its first stdout line (the startup line) has been read when this yields."""
    relay = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", "relay", "--every", "0.05"],
                             env=relay_env(database_url, sink_url, **extra), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        yield relay
    finally:
        if relay.poll() is None:
            relay.kill()
        relay.wait(timeout=30)
        assert relay.stdout
        relay.stdout.close()


# -- (0) the relay marks alert after alert on one connection ---------------------------------------------

class ConnectionDroppingSink(InMemorySink):
    """Accepts every alert; while holding the third, the database drops every connection but the caller's own
    (what a Postgres restart does to the relay's batch connection between two marks)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def send(self, alert: dict[str, Any]) -> None:
        super().send(alert)
        if len(self.sent) == 3:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
                conn.commit()


@pytest.mark.postgres
def test_a_batch_whose_connection_the_database_dropped_still_records_every_delivery(pg_engine: Engine) -> None:
    ids = seed_alerts(pg_engine, 6)
    sink = ConnectionDroppingSink(pg_engine)
    report = deliver_pending(pg_engine, sink, batch_size=10)
    assert report.sent == 6 and [a["transaction_id"] for a in sink.sent] == ids  # each sent once
    assert count_by_status(pg_engine).get(SENT) == 6  # and each recorded, the third one on a fresh connection


# -- (1) a relay dies mid-batch ------------------------------------------------------------------------

def test_a_relay_killed_mid_batch_has_recorded_every_alert_it_delivered(
        database_url: str, engine: Engine, receiver: WebhookReceiver, webhook: WebhookSink) -> None:
    """SIGKILL, not an exception: no `finally` runs. Only the alert in flight may be sent again."""
    ids = seed_alerts(engine, 6)
    receiver.hang(after=3)  # answers three, then holds the fourth open: the relay is mid-batch, mid-send
    with relay_process(database_url, receiver.url, FRAUDLOG_ALERT_BATCH_SIZE="6",
                       FRAUDLOG_ALERT_VISIBILITY_TIMEOUT="8", FRAUDLOG_ALERT_TIMEOUT="6") as relay:
        wait_until(lambda: receiver.hanging == 1, timeout=30, interval=0.01, message="the fourth send")
        relay.send_signal(signal.SIGKILL)
        relay.wait(timeout=10)

    delivered, in_flight, untouched = ids[:3], ids[3], ids[4:]
    assert receiver.delivered_keys == [alert_id_for(tx) for tx in delivered]
    states = {tx: alert_for_transaction(engine, tx) for tx in ids}
    assert {tx: a.status for tx, a in states.items() if a} == {
        **{tx: SENT for tx in delivered}, in_flight: PENDING, **{tx: PENDING for tx in untouched}}

    receiver.stop_hanging()
    # Another relay right away finds nothing: the dead relay's lease still holds the three unsent alerts.
    assert deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE).sent == 0
    wait_until(lambda: count_by_status(engine)[SENT] == 6, timeout=30, interval=0.1, message="the lease to expire",
               step=lambda: deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE))

    assert receiver.delivered_keys == [alert_id_for(tx) for tx in ids]
    # What the dead relay had delivered was recorded as it went, so none of it was sent a second time.
    assert all(receiver.requests_by_key[alert_id_for(tx)] == 1 for tx in ids)


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
    assert alert is not None and alert.attempts == 1
    assert alert.last_error is None  # the failure it recorded is over: a stale reason would mislead


# -- (2) two relay processes at once ---------------------------------------------------------------------

RELAY_PROCESS = textwrap.dedent("""
    import json, sys, time
    from datetime import timedelta
    from fraudlog.alerts.relay import DeliveryReport, deliver_pending
    from fraudlog.alerts.sinks import WebhookSink
    from fraudlog.store.engine import create_engine
    from fraudlog.store.outbox import PENDING, count_by_status

    database_url, receiver_url, secret, lease = sys.argv[1:5]
    engine = create_engine(database_url)
    engine.connect().close()
    sink = WebhookSink(receiver_url, secret.encode(), timeout=float(lease) * 0.9)
    print("ready", flush=True)
    sys.stdin.readline()  # start together, so the claims really race
    report = DeliveryReport()
    deadline = time.monotonic() + 120
    # Keep claiming until nothing is pending: a batch the other relay gave up at its lease's end is taken
    # over here as soon as that lease expires.
    while count_by_status(engine)[PENDING] and time.monotonic() < deadline:
        report += deliver_pending(engine, sink, batch_size=20, visibility_timeout=timedelta(seconds=float(lease)))
        time.sleep(0.01)
    print(json.dumps({"sent": report.sent, "failed": report.failed_attempts, "outlived": report.outlived_lease}))
""")


@pytest.mark.slow
def test_two_relay_processes_whose_leases_expire_mid_batch_send_only_the_alert_in_flight_twice(
        database_url: str, engine: Engine, receiver: WebhookReceiver) -> None:
    """Every seventh answer takes 0.3 s, so a batch of 20 outlives its 0.5 s lease and the other relay takes
    over its rest while a send is still in flight. An alert delivered before the lease ran out is recorded
    at once, so it is never sent again; at most the one in flight is, once per outlived lease."""
    count, lease = 300, "0.5"
    seed_alerts(engine, count)
    receiver.slow_down(every=7, seconds=0.3)
    relays = [subprocess.Popen([sys.executable, "-c", RELAY_PROCESS, database_url, receiver.url, SECRET.decode(),
                                lease], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
              for _ in range(2)]
    assert all(relay.stdout and relay.stdout.readline().strip() == "ready" for relay in relays)
    for relay in relays:  # both are connected and waiting: release them together
        assert relay.stdin
        relay.stdin.write("go\n")
        relay.stdin.flush()
    outputs = [relay.communicate(timeout=180) for relay in relays]

    assert [relay.returncode for relay in relays] == [0, 0], [err for _out, err in outputs]
    reports = [json.loads(out) for out, _err in outputs]
    assert all(report["sent"] > 0 for report in reports), reports  # both relays really took part
    outlived = sum(report["outlived"] for report in reports)
    assert outlived >= 3, reports  # leases really did expire mid-batch, several times
    assert len(receiver.delivered) == count  # every alert reached the customer once
    assert count_by_status(engine) == {PENDING: 0, SENT: count, FAILED: 0}
    resent = receiver.raw_requests - count
    assert resent <= outlived, (resent, reports)  # only ever the alert in flight when a lease ran out


# -- (3) the receiver is down for a while ----------------------------------------------------------------

def test_alerts_back_off_while_the_receiver_is_down_and_all_arrive_once_it_is_back(
        engine: Engine, receiver: WebhookReceiver, webhook: WebhookSink) -> None:
    ids = seed_alerts(engine, 10)
    receiver.go_down()
    before = datetime.now(UTC)

    # A lease no busy machine outlives: ten failed sends must all fit in this one pass (on a loaded machine,
    # under pytest-xdist, half a second did not, and the relay rightly stopped at its lease's end).
    report = deliver_pending(engine, webhook, visibility_timeout=timedelta(seconds=60), **FAST_RETRY)

    assert (report.sent, report.failed_attempts) == (0, 10)
    waiting = list_alerts(engine, status=PENDING).items
    assert len(waiting) == 10 and all(a.attempts == 1 and "HTTP 503" in (a.last_error or "") for a in waiting)
    assert all(_available_at(engine, a.transaction_id) > before for a in waiting)
    assert receiver.delivered == {}

    receiver.come_up()
    wait_until(lambda: count_by_status(engine)[SENT] == 10, timeout=10, interval=0.02, message="the relay",
               step=lambda: deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE, **FAST_RETRY))

    assert sorted(receiver.delivered_keys) == sorted(alert_id_for(tx) for tx in ids)
    assert all(count == 1 for count in receiver.requests_by_key.values())


def test_an_alert_that_keeps_failing_ends_as_failed_and_can_be_retried(
        engine: Engine, receiver: WebhookReceiver, webhook: WebhookSink) -> None:
    ids = seed_alerts(engine, 3)
    receiver.go_down()
    gave_up = 0

    def relay_run() -> None:
        nonlocal gave_up
        schedule = RetrySchedule(base_delay=timedelta(seconds=0.01), max_delay=timedelta(seconds=0.02),
                                 max_attempts=3)
        gave_up += deliver_pending(engine, webhook, visibility_timeout=SHORT_LEASE, schedule=schedule).gave_up

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


def test_a_hanging_receiver_costs_a_timeout_per_alert_and_each_arrives_once_it_answers(
        engine: Engine, receiver: WebhookReceiver) -> None:
    ids = seed_alerts(engine, 3)
    receiver.hang()  # takes every request and never answers
    sink = WebhookSink(receiver.url, SECRET, timeout=0.3)

    report = deliver_pending(engine, sink, visibility_timeout=timedelta(seconds=2), **FAST_RETRY)

    assert (report.sent, report.failed_attempts) == (0, 3)
    assert all("ReadTimeout" in (a.last_error or "") for a in list_alerts(engine).items)
    receiver.stop_hanging()
    wait_until(lambda: count_by_status(engine)[SENT] == 3, timeout=10, interval=0.02, message="the relay",
               step=lambda: deliver_pending(engine, sink, visibility_timeout=timedelta(seconds=2), **FAST_RETRY))
    sink.close()
    assert sorted(receiver.delivered_keys) == sorted(alert_id_for(tx) for tx in ids)
    assert all(a.last_error is None for a in list_alerts(engine).items)


def test_a_sink_url_with_credentials_never_shows_them(database_url: str, engine: Engine,
                                                      receiver: WebhookReceiver) -> None:
    """The password and the query-string token stay out of the relay's startup line and logs, of
    `last_error` (what `GET /v1/alerts` shows) and of `fraudlog alerts`; the error goes once delivered."""
    password, token = "hunter2-pw", "tok-9f8e7d6c"
    receiver.require_basic_auth("fraudlog", password)  # the credentials do reach the receiver
    url = receiver.url.replace("http://", f"http://fraudlog:{password}@") + f"?token={token}"
    seed_alerts(engine, 2)
    receiver.go_down()

    with relay_process(database_url, url, FRAUDLOG_ALERT_BASE_DELAY="0.05", FRAUDLOG_ALERT_MAX_DELAY="0.1",
                       FRAUDLOG_ALERT_MAX_ATTEMPTS="10000") as relay:
        wait_until(lambda: all(a.last_error for a in list_alerts(engine).items), timeout=30,
                   message="a failed attempt for each alert")
        errors = [a.last_error or "" for a in list_alerts(engine).items]
        cli = subprocess.run([sys.executable, "-m", "fraudlog.cli", "alerts", "--json"], capture_output=True,
                             text=True, env=relay_env(database_url, url), timeout=60, check=True)
        receiver.come_up()
        wait_until(lambda: count_by_status(engine)[SENT] == 2, timeout=30, message="delivery")
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=30)
        assert relay.stdout
        output = relay.stdout.read()

    assert output.startswith("relay delivering to http://***@127.0.0.1:")
    assert all(e.startswith("HTTP 503 from http://***@") and "token=***" in e for e in errors), errors
    for shown in (output, cli.stdout, *errors):
        assert password not in shown and token not in shown
    assert len(receiver.delivered) == 2
    assert [a.last_error for a in list_alerts(engine).items] == [None, None]


class BlockingSink:
    """Takes each alert only when released: a receiver that hangs until the test says otherwise."""

    def __init__(self) -> None:
        self.release, self.sending = threading.Event(), threading.Event()
        self.sent: list[dict[str, Any]] = []

    def send(self, alert: dict[str, Any]) -> None:
        self.sending.set()
        self.release.wait(60)
        self.sent.append(alert)

    def close(self) -> None:
        self.release.set()


def test_the_deliver_alerts_actor_returns_at_once_and_its_process_delivery_thread_sends(
        database_url: str, engine: Engine) -> None:
    """The actor runs on a Dramatiq worker thread, which `score` needs too: it must not wait for a receiver."""
    seed_alerts(engine, 3)
    sink = BlockingSink()
    settings = Settings(database_url=database_url, secret_key=b"delivery-thread-key", alert_sink="memory://")
    broker = StubBroker()
    broker.emit_after("process_boot")
    tasks.bind(broker, "fraudlog-delivery-test")
    jobs = tasks.WorkerJobs(lambda: worker_services(settings, sink=sink))
    tasks.run_jobs(broker, jobs)
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        tasks.deliver_alerts.send()
        # Returns once the actor has run: with delivery inline it would still be inside the blocked send.
        broker.join(tasks.deliver_alerts.queue_name, timeout=10_000)
        assert sink.sending.wait(10) and sink.sent == []  # the delivery thread is mid-send meanwhile
        sink.release.set()
        wait_until(lambda: count_by_status(engine)[SENT] == 3, timeout=20, message="the delivery thread")
    finally:
        sink.release.set()
        worker.stop()
        jobs.close()
    assert len(sink.sent) == 3


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
    assert lines[0] == {"type": "fraud_alert", "alert_id": alert_id_for(ids[0]), "transaction_id": ids[0],
                        "card_id": "card-0", "score": 0.97, "threshold": 0.8, "model_version": 1,
                        "created_at": lines[0]["created_at"]}


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


def test_a_webhook_failure_names_the_sink_without_its_credentials(receiver: WebhookReceiver) -> None:
    receiver.go_down()
    sink = WebhookSink(receiver.url.replace("http://", "http://fraudlog:hunter2-pw@") + "?token=tok-9f8e7d6c",
                       SECRET, timeout=2.0)
    with pytest.raises(DeliveryFailed) as failure:
        sink.send({"alert_id": "a"})
    sink.close()
    assert str(failure.value).startswith("HTTP 503 from http://***@127.0.0.1:")
    assert "token=***" in str(failure.value) and "token=***" in sink.url
    assert not any(secret in text for secret in ("hunter2-pw", "tok-9f8e7d6c") for text in (str(failure.value),
                                                                                             sink.url))


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
    receiver.secret = webhook_secret(settings)  # what the operator pastes into the receiver
    seed_alerts(engine, 1)

    sink = sink_from_settings(settings, RelaySettings())
    assert deliver_pending(engine, sink).sent == 1
    sink.close()
    assert len(receiver.delivered) == 1


def _available_at(engine: Engine, transaction_id: str) -> datetime:
    with engine.connect() as conn:
        return conn.execute(alerts.select().with_only_columns(alerts.c.available_at)
                            .where(alerts.c.transaction_id == transaction_id)).scalar_one()
