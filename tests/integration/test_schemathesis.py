"""schemathesis against the OpenAPI schema of the real app, served over HTTP on a fresh Postgres database,
with its embedded workers scoring what it accepts.

For every operation, schemathesis generates schema-valid and schema-invalid requests, each carrying an admin
key, and checks the answers: no 5xx; every status code, content type and body is one the schema documents;
invalid data is refused; valid data gets one of the answers listed for that operation in
`ACCEPTED_FOR_VALID_DATA` (each with the reason a schema-valid request may still be refused). Then the fuzzed
values are followed through the system: the log holds exactly the events that 2xx answers acknowledged,
every acknowledged transaction that the log assigns a champion is scored, and replay reproduces every
prediction bit for bit.

Every operation is fuzzed once per module, by a fixture, in `FUZZ_ORDER`: the tests read its results, so
any one of them run alone still checks what the fuzzing did. Bounded by FRAUDLOG_SCHEMATHESIS_EXAMPLES
(examples per operation and mode, default 100). A failure shows the failed checks, the answer and a curl
command that reproduces it.

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
import sqlalchemy as sa
from schemathesis import GenerationMode

from fraudlog.config import ApiKey, Settings
from fraudlog.domain.events import (
    EVENT_LABEL,
    EVENT_PROMOTION,
    EVENT_RETIREMENT,
    EVENT_SUPPRESSION,
    EVENT_SUPPRESSION_END,
    EVENT_TRANSACTION,
)
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import replay
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.tables import predictions
from tests.support.api import build_app, served_api
from tests.support.data import transaction_body
from tests.support.event_log import read_range
from tests.support.models import SECRET, install_version
from tests.support.processes import wait_until
from tests.support.services import throwaway_pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

KEY = "schemathesis-admin-key"
MAX_EXAMPLES = int(os.environ.get("FRAUDLOG_SCHEMATHESIS_EXAMPLES", "100"))
Operation = tuple[str, str]  # (method, path template)
# The operations that append to the log, and the kind of event a 2xx answer acknowledges.
APPENDING = {("POST", "/v1/transactions"): EVENT_TRANSACTION, ("POST", "/v1/labels"): EVENT_LABEL,
             ("POST", "/v1/models/{version}/promote"): EVENT_PROMOTION,
             ("POST", "/v1/models/{version}/retire"): EVENT_RETIREMENT,
             ("POST", "/v1/cards/{card_id}/suppressions"): EVENT_SUPPRESSION,
             ("DELETE", "/v1/cards/{card_id}/suppressions/{suppression_id}"): EVENT_SUPPRESSION_END}
# What a schema-valid request may be answered, per operation, and why beyond 2xx: rules JSON Schema cannot
# state. The admin key is valid and the rate limit far away, so 401, 403 and 429 are failures; so are 400
# and every 5xx.
ACCEPTED_FOR_VALID_DATA: dict[Operation, list[str]] = {
    # 409: an id recorded earlier with another body; 422: an id repeated in one batch with another body, or
    # a time outside 1970-01-02 .. 9999-12-30 (a format: date-time allows year 1).
    ("POST", "/v1/transactions"): ["200", "202", "409", "422"],
    ("POST", "/v1/labels"): ["200", "202", "422"],  # 422: a labeled_at outside the time bounds
    # 404: no such alert; 409: a customer's answer to an alert not delivered yet; 422: an answered_at out of bounds
    ("POST", "/v1/alerts/{alert_id}/outcome"): ["200", "202", "404", "409", "422"],
    # 404: a model_version that does not exist; 422: a time outside the bounds. A champion serves (the
    # lifecycle operations that could retire it are fuzzed last), so never 409.
    ("POST", "/v1/predict"): ["200", "404", "422"],
    ("GET", "/v1/transactions/{transaction_id}"): ["200", "404"],
    ("GET", "/v1/alerts"): ["200", "422"],  # 422: a cursor this API never handed out
    ("GET", "/v1/alerts/{alert_id}"): ["200", "404"],  # 404: no such alert
    ("GET", "/v1/reviews"): ["200"],
    ("POST", "/v1/cards/{card_id}/suppressions"): ["200", "201", "422"],  # 422: an `until` out of the time bounds
    ("DELETE", "/v1/cards/{card_id}/suppressions/{suppression_id}"): ["200", "202", "404"],  # 404: no such one
    ("GET", "/v1/cards/{card_id}/suppressions"): ["200"],
    ("GET", "/v1/predictions"): ["200", "422"],  # 422: a cursor beyond the end of the log; any filter a filter
    ("GET", "/v1/stats"): ["200"],
    ("GET", "/v1/stats/series"): ["200", "422"],  # 422: a range or step not like 10s, 5m, 1h, 1d, or too many points
    ("GET", "/metrics"): ["200"],
    ("GET", "/health"): ["200"],
    ("GET", "/ready"): ["200"],
    ("GET", "/v1/models"): ["200"],
    ("GET", "/v1/models/{version}"): ["200", "404"],
    # 422: a bucket wider than 366 days, or both `bucket` and `every` (one of them, a rule JSON Schema can't state)
    ("GET", "/v1/models/{version}/quality"): ["200", "404", "422"],
    ("GET", "/v1/models/{version}/quality/sources"): ["200", "404"],
    ("GET", "/v1/drift"): ["200"],
    ("POST", "/v1/models/{version}/promote"): ["200", "404"],
    ("POST", "/v1/models/{version}/retire"): ["200", "404"],
}
# Appends and scoring first, while the installed version is champion; promote and retire last.
FUZZ_ORDER: list[Operation] = list(ACCEPTED_FOR_VALID_DATA)

Acknowledged = tuple[int, str, str | None]  # (position, event type, transaction id)


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, broker_url="memory://", secret_key=SECRET,
                    api_keys=(ApiKey("fuzzer", "admin", KEY),), alert_sink="memory://")


def _operations() -> list[Operation]:
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
        if kind in (EVENT_PROMOTION, EVENT_RETIREMENT, EVENT_SUPPRESSION):
            entries = {(int(body["position"]), kind, None)}
        elif kind == EVENT_SUPPRESSION_END:
            entries = {(int(body["ended_at"]), kind, None)}
        else:
            receipts = body if isinstance(body, list) else [body]
            entries = {(int(r["position"]), kind, str(r["transaction_id"])) for r in receipts}
        with self.lock:
            self.acknowledged |= entries

    def acknowledged_transactions(self) -> dict[str, int]:
        return {str(tx): position for position, kind, tx in self.acknowledged if kind == EVENT_TRANSACTION}


@pytest.fixture(scope="module")
def served(pg_template: str) -> Iterator[Served]:
    """The app under uvicorn on its own Postgres database, its embedded workers scoring what it appends, with
    a champion so that /v1/predict and the workers score."""
    with throwaway_pg_database(f"fraudlog_st_{uuid.uuid4().hex[:12]}", template=pg_template) as url:
        engine = create_engine(url)
        install_version(engine, rows=200)
        last = EventLog(engine).last_position()
        engine.dispose()
        with served_api(_settings(url), background=True) as base:
            yield Served(base, url, last + 1)


@pytest.fixture(scope="module")
def api_schema(served: Served) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "headers": {"Authorization": f"Bearer {KEY}"},
        "generation": {"allow-x00": True},
        # One filter per entry: separate include-method and include-path filters would match either.
        "operations": [{"include-name": f"{method} {path}",
                        "checks": {"positive_data_acceptance": {"expected-statuses": statuses}}}
                       for (method, path), statuses in ACCEPTED_FOR_VALID_DATA.items()],
    })
    return schemathesis.openapi.from_url(f"{served.base_url}/schema/openapi.json", config=config)


@pytest.fixture(scope="module")
def fuzzed(api_schema: schemathesis.BaseSchema, served: Served) -> dict[Operation, list[str]]:
    """Fuzz every operation in `FUZZ_ORDER`; the failures found, per operation."""
    return {(method, path): _fuzz(api_schema, served, method, path) for method, path in FUZZ_ORDER}


def _fuzz(api_schema: schemathesis.BaseSchema, served: Served, method: str, path: str) -> list[str]:
    operation = api_schema[path][method]
    found: list[str] = []
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
            found.append(f"{method} {path} ({mode.value}): {failure}")
    return found


def test_every_operation_states_what_valid_data_may_be_answered() -> None:
    assert sorted(ACCEPTED_FOR_VALID_DATA) == sorted(_operations())


@pytest.mark.parametrize("operation", FUZZ_ORDER, ids=lambda value: f"{value[0]} {value[1]}")
def test_every_answer_is_documented_and_none_is_a_server_error(operation: Operation,
                                                                fuzzed: dict[Operation, list[str]]) -> None:
    if fuzzed[operation]:
        pytest.fail("\n\n".join(fuzzed[operation]), pytrace=False)


def append_known_events(served: Served) -> str:
    """A transaction and its label through the API after the fuzzing, with the installed version made
    champion again (the fuzzer may have retired it), so it must be scored."""
    transaction = transaction_body(1, transaction_id=f"tx-known-{uuid.uuid4().hex[:12]}")
    label = {"transaction_id": transaction["transaction_id"], "is_fraud": True}
    with httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
        promoted = http.post("/v1/models/1/promote")
        assert promoted.status_code == 200, promoted.text
        served.record("POST", "/v1/models/{version}/promote", promoted.status_code, promoted.json())
        for path, body in (("/v1/transactions", transaction), ("/v1/labels", label)):
            response = http.post(path, json=body)
            assert response.status_code == 202, response.text
            served.record("POST", path, response.status_code, response.json())
    return str(transaction["transaction_id"])


def test_the_log_holds_exactly_the_events_that_2xx_answers_acknowledged(
        served: Served, fuzzed: dict[Operation, list[str]]) -> None:
    append_known_events(served)
    engine = create_engine(served.database_url)
    try:
        records = list(read_range(engine, start=served.first_position))
    finally:
        engine.dispose()
    stored = {(record.position, record.event_type, record.transaction_id) for record in records}
    unacknowledged = sorted(stored - served.acknowledged)
    missing = sorted(served.acknowledged - stored)
    assert not unacknowledged, f"{len(unacknowledged)} events no 2xx answer acknowledged: {unacknowledged[:10]}"
    assert not missing, f"{len(missing)} acknowledged events missing from the log: {missing[:10]}"
    assert len(served.acknowledged_transactions()) > 1, "the fuzzer had no transaction accepted"


def test_every_acknowledged_transaction_is_scored_and_replay_reproduces_it(
        served: Served, fuzzed: dict[Operation, list[str]]) -> None:
    known = append_known_events(served)
    acknowledged = served.acknowledged_transactions()
    engine = create_engine(served.database_url)
    registry = ModelRegistry(engine, SECRET)
    try:
        roles = registry.assignments(through=EventLog(engine).last_position())
        assigned = {tx for tx, position in acknowledged.items() if roles.assignment_at(position).champion}
        assert known in assigned and len(assigned) > 1, "no fuzzed transaction was scorable"

        def scored() -> set[str]:
            with engine.connect() as conn:
                return set(conn.execute(sa.select(predictions.c.transaction_id).where(
                    predictions.c.champion)).scalars())

        wait_until(lambda: assigned <= scored(), timeout=120,
                   message=f"the embedded workers to score {len(assigned)} acknowledged transactions")
        report = replay(engine, registry)
        assert report.reproduced, [d.to_dict() for d in report.differences]
        assert report.checked >= len(assigned)
    finally:
        engine.dispose()
