"""`GET /v1/models` and `GET /v1/models/{version}`: versions, their live figures and their lineage.

Defined in the client distribution (`fraudlog_client.responses.models`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.models import (
    Artifact as Artifact,
)
from fraudlog_client.responses.models import (
    DecisionView as DecisionView,
)
from fraudlog_client.responses.models import (
    ExplanationView as ExplanationView,
)
from fraudlog_client.responses.models import (
    LiveMetrics as LiveMetrics,
)
from fraudlog_client.responses.models import (
    ModelDetail as ModelDetail,
)
from fraudlog_client.responses.models import (
    ModelSummary as ModelSummary,
)
