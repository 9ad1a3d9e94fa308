"""The status vocabularies that response bodies carry, as types: OpenAPI lists each one's values.

Defined in the client distribution (`fraudlog_client.responses.statuses`), once: the server encodes them,
the client decodes them."""

from fraudlog_client.responses.statuses import (
    AlertStatus as AlertStatus,
)
from fraudlog_client.responses.statuses import (
    IngestStatus as IngestStatus,
)
from fraudlog_client.responses.statuses import (
    ModelStatus as ModelStatus,
)
from fraudlog_client.responses.statuses import (
    ReviewOrder as ReviewOrder,
)
from fraudlog_client.responses.statuses import (
    RoleChange as RoleChange,
)
