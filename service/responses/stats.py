"""`GET /v1/stats`: the deployment's figures.

Defined in the client distribution (`fraudlog_client.responses.stats`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.stats import (
    AlertCounts as AlertCounts,
)
from fraudlog_client.responses.stats import (
    Backlog as Backlog,
)
from fraudlog_client.responses.stats import (
    Latency as Latency,
)
from fraudlog_client.responses.stats import (
    Percentiles as Percentiles,
)
from fraudlog_client.responses.stats import (
    Stats as Stats,
)
from fraudlog_client.responses.stats import (
    Throughput as Throughput,
)
