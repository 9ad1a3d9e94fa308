"""`GET /v1/alerts`: the alerts outbox, a page at a time.

Defined in the client distribution (`fraudlog_client.responses.alerts`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.alerts import (
    AlertItem as AlertItem,
)
from fraudlog_client.responses.alerts import (
    AlertsPage as AlertsPage,
)
