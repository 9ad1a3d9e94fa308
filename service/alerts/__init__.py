"""Alert delivery: the relay that drains the outbox, the sinks it sends to, and webhook signatures.

The outbox itself (the table and its claims) lives in `service.store.outbox`; this package never touches
SQL directly.
"""

from service.alerts.relay import (
    DeliveryReport,
    RelaySettings,
    deliver_pending,
    sink_from_settings,
    webhook_secret,
)
from service.alerts.signing import SIGNATURE_HEADER, SignatureInvalid, sign, verify
from service.alerts.sinks import (
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
    "SIGNATURE_HEADER",
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
    "verify",
    "webhook_secret",
]
