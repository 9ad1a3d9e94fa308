"""The Python client is a distribution of its own, `fraudlog-client` (client/, import package `fraudlog_client`),
that imports nothing of the server (issue 31): a notebook or a service that only sends requests does not pay for
River, SQLAlchemy, Litestar or Dramatiq, and cannot break on them. import-linter checks the imports statically
(pyproject.toml); this checks what a fresh interpreter actually loads, and that the server's wire types are the
client's own (one definition each). tests/e2e/test_client_wheel.py installs the wheel where no `fraudlog` is."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import fraudlog_client

SERVER = ("sqlalchemy", "river", "litestar", "dramatiq", "numpy", "scipy", "psycopg", "uvicorn",
          "fraudlog.store", "fraudlog.views", "fraudlog.models", "fraudlog.ml", "fraudlog.api.app",
          "fraudlog.workers")


def loaded_after(statement: str, modules: tuple[str, ...]) -> list[str]:
    probe = (f"import json, sys; {statement}; "
             f"print(json.dumps([m for m in {list(modules)!r} if m in sys.modules]))")
    return list(json.loads(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                                          text=True).stdout))


def test_the_client_distribution_loads_nothing_of_fraudlog() -> None:
    statement = ("import fraudlog_client; from fraudlog_client import AsyncFraudlogClient, FraudlogClient, stream; "
                 "import fraudlog_client.sse")
    assert loaded_after(statement, ("fraudlog", *SERVER)) == []


def test_the_wire_types_load_no_http_library() -> None:
    """The server imports `fraudlog_client.records` and friends: that must not bring httpx into every process."""
    statement = "import fraudlog_client.records, fraudlog_client.bodies, fraudlog_client.schemas"
    assert loaded_after(statement, ("httpx", "fraudlog_client.client", "fraudlog")) == []


def test_importing_the_old_name_loads_no_server_package() -> None:
    assert loaded_after("import fraudlog.client", SERVER) == []


def test_the_old_name_and_the_server_use_the_client_distributions_definitions() -> None:
    import fraudlog.api.schemas
    import fraudlog.client
    import fraudlog.domain.events
    import fraudlog.domain.records
    import fraudlog.responses.feed
    import fraudlog.sse

    for name in fraudlog.client.__all__:
        assert getattr(fraudlog.client, name) is getattr(fraudlog_client, name), name
    assert fraudlog.domain.records.Decision is fraudlog_client.Decision
    assert fraudlog.domain.records.Lineage is fraudlog_client.Lineage
    assert fraudlog.domain.events.TransactionBody is fraudlog_client.TransactionBody
    assert fraudlog.domain.events.format_time is fraudlog_client.format_time
    assert fraudlog.api.schemas.IngestReceipt is fraudlog_client.IngestReceipt
    assert fraudlog.responses.feed.PredictionItem is fraudlog_client.PredictionItem
    assert fraudlog.sse.parse_events is fraudlog_client.sse.parse_events


def test_the_package_exports_what_it_lists() -> None:
    assert fraudlog_client.__all__ == sorted(fraudlog_client._EXPORTS)
    for name in fraudlog_client.__all__:
        value = getattr(fraudlog_client, name)
        if not isinstance(value, types.GenericAlias):  # Row = LabelledTransaction = tuple[TransactionBody, bool]
            assert value.__module__.startswith("fraudlog_client."), name
