"""`GET /v1/transactions/{transaction_id}`: a transaction and what was derived from it.

Defined in the client distribution (`fraudlog_client.responses.transaction`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.transaction import (
    LabelView as LabelView,
)
from fraudlog_client.responses.transaction import (
    PredictionView as PredictionView,
)
from fraudlog_client.responses.transaction import (
    ScoringFailureView as ScoringFailureView,
)
from fraudlog_client.responses.transaction import (
    TransactionAlert as TransactionAlert,
)
from fraudlog_client.responses.transaction import (
    TransactionRecord as TransactionRecord,
)
from fraudlog_client.responses.transaction import (
    TransactionView as TransactionView,
)
