"""`GET /v1/predictions` and its stream: stored predictions in log order.

Defined in the client distribution (`fraudlog_client.responses.feed`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.feed import (
    PredictionItem as PredictionItem,
)
from fraudlog_client.responses.feed import (
    PredictionsPage as PredictionsPage,
)
