"""The OpenAPI document describes every successful answer's body, and the transaction view reads each of its
records once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from tests.support.api import api_client
from tests.support.models import SECRET, install_version, synthetic_rows


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with api_client(settings) as client:
        yield client


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return dict(document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def successful_bodies(document: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any] | None]]:
    """(method, path, status, schema) for every media type of every 2xx answer; None where no schema."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                content = answer.get("content") or {"(none)": {}}
                for media in content.values():
                    yield method.upper(), path, status, media.get("schema")


def test_every_2xx_answer_of_every_operation_documents_a_body_schema(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json").json()
    checked = 0
    for method, path, status, schema in successful_bodies(document):
        assert schema, f"{method} {path} {status}: no schema"
        resolved = resolve(document, schema)
        assert set(resolved) & {"type", "oneOf", "anyOf", "properties"}, f"{method} {path} {status}: {resolved}"
        if resolved.get("type") == "object":
            assert resolved.get("properties"), f"{method} {path} {status}: an object without properties"
        checked += 1
    assert checked >= 15  # every route of the contract, transactions to readiness


def test_statuses_are_documented_as_their_values(client: TestClient[Any]) -> None:
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]

    def values(struct: str) -> set[str]:
        return set(schemas[struct]["properties"]["status"]["enum"])

    assert values("ModelSummary") == values("ModelDetail") == {"champion", "challenger", "retired"}
    assert values("RoleChanged") == {"champion", "retired"}
    assert values("AlertItem") == values("TransactionAlert") == {"pending", "sent", "failed"}
    assert values("IngestReceipt") == {"accepted", "duplicate", "correction"}


def test_transaction_view_reads_the_event_and_its_predictions_once(client: TestClient[Any]) -> None:
    engine = services_of(client.app).engine
    install_version(engine)
    install_version(engine, model="logreg", seed=5, promote=False)
    rows = synthetic_rows(30, seed=12, cards=3)
    posted = client.post("/v1/transactions", json=[body for body, _ in rows])
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions([r["position"] for r in posted.json()])
    transaction_id = rows[-1][0]["transaction_id"]
    client.post("/v1/labels", json={"transaction_id": transaction_id, "is_fraud": True})
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        view = client.get(f"/v1/transactions/{transaction_id}").json()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert [p["reproduced"] for p in view["predictions"]] == [True, True]  # the champion and a challenger
    event_by_id = [s for s in statements if re.search(r"FROM events WHERE .*events\.transaction_id = ", s)]
    from_predictions = [s for s in statements if re.search(r"FROM predictions\b", s)]
    assert len(event_by_id) == 1, event_by_id
    assert len(from_predictions) == 1, from_predictions
