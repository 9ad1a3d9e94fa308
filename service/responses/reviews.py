"""`GET /v1/reviews` and `GET /v1/alerts/{alert_id}`: alerts as a reviewer sees them.

Defined in the client distribution (`fraudlog_client.responses.reviews`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.reviews import (
    AlertReview as AlertReview,
)
from fraudlog_client.responses.reviews import (
    CardHistoryEntry as CardHistoryEntry,
)
from fraudlog_client.responses.reviews import (
    EffectiveLabel as EffectiveLabel,
)
from fraudlog_client.responses.reviews import (
    OutcomeEntry as OutcomeEntry,
)
from fraudlog_client.responses.reviews import (
    ReviewQueue as ReviewQueue,
)
