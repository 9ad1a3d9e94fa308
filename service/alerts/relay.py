"""The polling relay: claim due alerts, send each to the sink, record the outcome.

Exactly-once, as the customer sees it, is at-least-once delivery plus deduplication at the receiver:
a relay can always die after the receiver took an alert and before `sent_at` is written, and then the
alert is sent again, with the same Idempotency-Key, once its lease runs out. What this module adds is
that in the normal case nothing is sent twice (claims are disjoint) and that nothing waits forever
(failures back off and end as `failed`, visible in `/v1/alerts`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection, Engine

from fraudlog.alerts.schedule import RetrySchedule
from fraudlog.alerts.signing import signing_key
from fraudlog.alerts.sinks import AlertSink, DeliveryFailed, sink_from_url
from fraudlog.config import ConfigError, RelaySettings, Settings
from fraudlog.store.engine import write_connection
from fraudlog.store.errors import StoreUnavailable
from fraudlog.store.outbox import FAILED, ClaimedAlert, claim_pending_alerts, mark_sent, record_failure

WEBHOOK_KEY_LABEL = b"fraudlog-webhook"
MAX_BATCHES_PER_RUN = 1_000


@dataclass(frozen=True)
class DeliveryReport:
    """What one relay run did: alerts delivered, failed sends, alerts that ran out of attempts, and batches
    that outlived their lease (the relay stopped sending, or its last send ended, after the lease ran out).
    Each of those may have one alert sent twice (the one in flight); nothing else is."""

    sent: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    outlived_lease: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(self.sent + other.sent, self.failed_attempts + other.failed_attempts,
                              self.gave_up + other.gave_up, self.outlived_lease + other.outlived_lease)


def webhook_secret(settings: Settings) -> bytes:
    """The key that signs webhooks: FRAUDLOG_WEBHOOK_SECRET (`settings.webhook_secret`), else one derived from
    the secret key.

    Deriving it leaves operators one key to manage, and since HMAC is one-way, the webhook secret that is
    shared with the receiver never reveals the key that signs model artifacts and hashes API keys. It is
    the hex text of HMAC-SHA256(secret_key, "fraudlog-webhook"), so it can be pasted into a receiver's
    configuration as is.
    """
    explicit = settings.webhook_secret
    if explicit:
        try:
            signing_key(explicit)
        except ValueError as exc:
            raise ConfigError(f"FRAUDLOG_WEBHOOK_SECRET: {exc}") from None
        return explicit
    if not settings.secret_key:
        raise ConfigError("set FRAUDLOG_WEBHOOK_SECRET or FRAUDLOG_SECRET_KEY to sign webhooks")
    return hmac.new(settings.secret_key, WEBHOOK_KEY_LABEL, hashlib.sha256).hexdigest().encode()


def sink_from_settings(settings: Settings, relay: RelaySettings) -> AlertSink:
    """The sink FRAUDLOG_ALERT_SINK names, with the webhook secret and timeout filled in."""
    return sink_from_url(settings.alert_sink, webhook_secret(settings),
                         timeout=relay.webhook_timeout.total_seconds())


def deliver_pending(engine: Engine, sink: AlertSink, *, batch_size: int = RelaySettings.batch_size,
                    visibility_timeout: timedelta = RelaySettings.visibility_timeout,
                    schedule: RetrySchedule | None = None, max_batches: int = MAX_BATCHES_PER_RUN,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                    ) -> DeliveryReport:
    """Deliver due alerts batch by batch until none is claimable, a batch delivers nothing, or max_batches.

    A failed send is retried as `schedule` says (default: `RetrySchedule.of(RelaySettings())`). `clock` gives the
    wall-clock time the outbox's timestamps are compared with (due, leased, sent): tests drive it to live
    through hours of backoff in seconds. Leases are also timed on the monotonic clock."""
    run = _Run(schedule or RetrySchedule.of(RelaySettings()), clock)
    report = DeliveryReport()
    for _ in range(max_batches):
        # Taken before claiming, so this relay's idea of its lease ends no later than the database's.
        lease_deadline = time.monotonic() + visibility_timeout.total_seconds()
        batch = claim_pending_alerts(engine, limit=batch_size, visibility_timeout=visibility_timeout,
                                     now=run.clock())
        if not batch:
            break
        outcome = _deliver_batch(engine, sink, batch, run, lease_deadline)
        report += outcome
        if outcome.sent == 0:
            break  # the sink looks down: the backoff, not this loop, decides when to try again
    return report


@dataclass(frozen=True)
class _Run:
    schedule: RetrySchedule
    clock: Callable[[], datetime]


def _deliver_batch(engine: Engine, sink: AlertSink, batch: Sequence[ClaimedAlert], run: _Run,
                   lease_deadline: float) -> DeliveryReport:
    with write_connection(engine) as marks:
        return _deliver_each(engine, marks, sink, batch, run, lease_deadline)


def _deliver_each(engine: Engine, marks: Connection, sink: AlertSink, batch: Sequence[ClaimedAlert],
                  run: _Run, lease_deadline: float) -> DeliveryReport:
    sent = failed = gave_up = 0
    for alert in batch:
        if time.monotonic() >= lease_deadline:
            # The lease is over and another relay may own the rest; sending now would duplicate.
            return DeliveryReport(sent, failed, gave_up, outlived_lease=1)
        try:
            sink.send(alert.payload)
        except DeliveryFailed as exc:
            status = record_failure(engine, alert.alert_id, str(exc), policy=run.schedule, now=run.clock())
            failed += 1
            gave_up += status == FAILED
            continue
        # Recorded before the next send, one commit per alert: a relay that dies (SIGKILL, power cut) or
        # outlives its lease mid-batch leaves only the alert in flight to be sent again, not the whole batch.
        _record_sent(engine, marks, alert.alert_id, run.clock())
        sent += 1
    return DeliveryReport(sent, failed, gave_up, outlived_lease=int(time.monotonic() >= lease_deadline))


def _record_sent(engine: Engine, marks: Connection, alert_id: str, sent_at: datetime) -> None:
    """`mark_sent` on the batch's connection; if the database dropped it (a restart while the receiver had the
    alert), once more on a fresh one from the pool, which pings first. Marking twice is harmless."""
    try:
        mark_sent(marks, [alert_id], sent_at)
    except StoreUnavailable:
        mark_sent(engine, [alert_id], sent_at)
