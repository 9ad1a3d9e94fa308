"""schemathesis against the OpenAPI schema of the real app, served over HTTP on a fresh Postgres database.

For every operation, schemathesis generates schema-valid and schema-invalid requests, each carrying an admin
key, and checks the answers: no 5xx; every status code, content type and body is one the schema documents;
valid data is accepted and invalid data refused. Afterwards the log holds exactly the events that 2xx
answers acknowledged: nothing that a refused request wrote, nothing acknowledged and missing.

Bounded by FRAUDLOG_SCHEMATHESIS_EXAMPLES (examples per operation and mode, default 100: about 30 s). A
failure shows the failed checks, the answer and a curl command that reproduces it.

schemathesis's own pytest loader (`schemathesis.pytest.from_fixture`) sets `Node._nodeid`, which pytest 9
no longer has, so the operations are driven here through the public Python API (`as_strategy`, `call`,
`validate_response`).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode

from service.config import ApiKey, Settings
from service.domain.events import EVENT_LABEL, EVENT_PROMOTION, EVENT_RETIREMENT, EVENT_TRANSACTION
from service.store.engine import create_engine
from service.store.event_log import EventLog
from tests.support.api import build_app, served_api
from tests.support.data import transaction_body
from tests.support.models import SECRET, install_version
from tests.support.services import throwaway_pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

KEY = "schemathesis-admin-key"
MAX_EXAMPLES = int(os.environ.get("FRAUDLOG_SCHEMATHESIS_EXAMPLES", "100"))
# The operations that append to the log, and the kind of event a 2xx answer acknowledges.
APPENDING = {("POST", "/v1/transactions"): EVENT_TRANSACTION, ("POST", "/v1/labels"): EVENT_LABEL,
             ("POST", "/v1/models/{version}/promote"): EVENT_PROMOTION,
             ("POST", "/v1/models/{version}/retire"): EVENT_RETIREMENT}
# A schema-valid request may still be refused with 422 by rules JSON Schema cannot state: an id repeated in a
# batch with another body, an alerts cursor this API never handed out. 400 and 5xx stay failures.
ACCEPTED_FOR_VALID_DATA = ["2xx", "401", "403", "404", "409", "422", "429"]

Acknowledged = tuple[int, str, str | None]  # (position, event type, transaction id)


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, broker_url="memory://", secret_key=SECRET,
                    api_keys=(ApiKey("fuzzer", "admin", KEY),), alert_sink="memory://")


def _operations() -> list[tuple[str, str]]:
    """Every documented operation, read from the app's schema without serving it."""
    document = build_app(_settings("sqlite://")).openapi_schema.to_schema()
    # An SSE stream never ends, so no exchange with it completes: tests/integration/test_prediction_stream.py.
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item
            if path != "/v1/predictions/stream"]


@dataclass
class Served:
    base_url: str
    database_url: str
    first_position: int  # earlier positions were written by the set-up, not through the API
    acknowledged: set[Acknowledged] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, path: str, status: int, body: Any) -> None:
        """Remember the events a 2xx answer to an appending operation says are in the log."""
        kind = APPENDING.get((method, path))
        if kind is None or not 200 <= status < 300:
            return
        if kind in (EVENT_PROMOTION, EVENT_RETIREMENT):
            entries = {(int(body["position"]), kind, None)}
        else:
            receipts = body if isinstance(body, list) else [body]
            entries = {(int(r["position"]), kind, str(r["transaction_id"])) for r in receipts}
        with self.lock:
            self.acknowledged |= entries


@pytest.fixture(scope="module")
def served(pg_template: str) -> Iterator[Served]:
    """The app under uvicorn on its own Postgres database, with a champion so that /v1/predict scores."""
    with throwaway_pg_database(f"fraudlog_st_{uuid.uuid4().hex[:12]}", template=pg_template) as url:
        engine = create_engine(url)
        install_version(engine, rows=200)
        last = EventLog(engine).last_position()
        engine.dispose()
        with served_api(_settings(url)) as base:
            yield Served(base, url, last + 1)


@pytest.fixture(scope="module")
def api_schema(served: Served) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "headers": {"Authorization": f"Bearer {KEY}"},
        "generation": {"allow-x00": True},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA}},
    })
    return schemathesis.openapi.from_url(f"{served.base_url}/schema/openapi.json", config=config)


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda value: str(value))
def test_every_answer_is_documented_and_none_is_a_server_error(method: str, path: str,
                                                                api_schema: schemathesis.BaseSchema,
                                                                served: Served) -> None:
    operation = api_schema[path][method]
    found: list[BaseException] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def exchange(case: schemathesis.Case) -> None:
            response = case.call(base_url=served.base_url, timeout=30)
            try:
                body = response.json()
            except ValueError:
                body = None
            served.record(method, path, response.status_code, body)
            case.validate_response(response)

        try:
            exchange()
        except hypothesis.errors.Unsatisfiable:
            continue  # no parameters and no body: there is no invalid request to make
        except (Exception, BaseExceptionGroup) as failure:
            found.append(failure)
    if found:
        pytest.fail("\n\n".join(f"{method} {path}: {failure}" for failure in found), pytrace=False)


def append_known_events(served: Served) -> None:
    """A transaction and its label through the API, so the check below has events even when run alone."""
    transaction = transaction_body(1, transaction_id=f"tx-known-{uuid.uuid4().hex[:12]}")
    label = {"transaction_id": transaction["transaction_id"], "is_fraud": True}
    with httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
        for path, body in (("/v1/transactions", transaction), ("/v1/labels", label)):
            response = http.post(path, json=body)
            assert response.status_code == 202, response.text
            served.record("POST", path, response.status_code, response.json())


def test_the_log_holds_exactly_the_events_that_2xx_answers_acknowledged(served: Served) -> None:
    append_known_events(served)
    engine = create_engine(served.database_url)
    try:
        records = list(EventLog(engine).read_range(start=served.first_position))
    finally:
        engine.dispose()
    stored = {(record.position, record.event_type, record.transaction_id) for record in records}
    unacknowledged = sorted(stored - served.acknowledged)
    missing = sorted(served.acknowledged - stored)
    assert not unacknowledged, f"{len(unacknowledged)} events no 2xx answer acknowledged: {unacknowledged[:10]}"
    assert not missing, f"{len(missing)} acknowledged events missing from the log: {missing[:10]}"
