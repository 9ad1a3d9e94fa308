"""`/v1/cards/{card_id}/suppressions`: a card's suppressions.

Defined in the client distribution (`fraudlog_client.responses.suppressions`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.suppressions import (
    SuppressionList as SuppressionList,
)
from fraudlog_client.responses.suppressions import (
    SuppressionView as SuppressionView,
)
