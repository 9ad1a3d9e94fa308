"""The one choice of backend: by the database URL when an engine is made, by its dialect afterwards.

Every store module asks here for the backend of the connection or engine it was handed and calls it; nothing
else in the code compares dialect names, and nothing above the store imports this module or a backend.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.store.postgres import POSTGRES
from fraudlog.store.recorders import Backend
from fraudlog.store.sqlite import SQLITE

_BACKENDS: dict[str, Backend] = {POSTGRES.name: POSTGRES, SQLITE.name: SQLITE}  # each checked against Backend


def backend_for(bind: Connection | Engine) -> Backend:
    """The backend of the database `bind` talks to."""
    return _BACKENDS[bind.dialect.name]


def backend_for_url(url: str) -> Backend:
    """The backend of the database at `url`."""
    name = sa.make_url(url).get_backend_name()
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unsupported database {name!r}: fraudlog runs on {' or '.join(_BACKENDS)}") from None
