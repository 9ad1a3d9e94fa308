"""Alert delivery: the relay that drains the outbox, the sinks it sends to, and webhook signatures.

The outbox itself (the table and its claims) lives in `fraudlog.store.outbox`; this package never touches
SQL directly.
"""

from fraudlog.alerts.relay import (
    DeliveryReport,
    RelaySettings,
    deliver_pending,
    sink_from_settings,
    webhook_secret,
)
from fraudlog.alerts.signing import (
    WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    SignatureInvalid,
    sign,
    standard_secret,
    verify,
)
from fraudlog.alerts.sinks import (
    IDEMPOTENCY_HEADER,
    AlertSink,
    DeliveryFailed,
    InMemorySink,
    JsonLinesSink,
    WebhookSink,
    sink_from_url,
)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "WEBHOOK_ID_HEADER",
    "WEBHOOK_SIGNATURE_HEADER",
    "WEBHOOK_TIMESTAMP_HEADER",
    "AlertSink",
    "DeliveryFailed",
    "DeliveryReport",
    "InMemorySink",
    "JsonLinesSink",
    "RelaySettings",
    "SignatureInvalid",
    "WebhookSink",
    "deliver_pending",
    "sign",
    "sink_from_settings",
    "sink_from_url",
    "standard_secret",
    "verify",
    "webhook_secret",
]
