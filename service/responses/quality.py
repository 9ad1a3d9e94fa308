"""`GET /v1/models/{version}/quality`: a version's quality over time.

Defined in the client distribution (`fraudlog_client.responses.quality`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.quality import (
    QualityAsOf as QualityAsOf,
)
from fraudlog_client.responses.quality import (
    QualityBucket as QualityBucket,
)
from fraudlog_client.responses.quality import (
    QualityReport as QualityReport,
)
