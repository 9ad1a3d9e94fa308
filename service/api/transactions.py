"""`/v1/transactions`: append card payments to the log, and show one with everything derived from it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter
from sqlalchemy.engine import Engine

from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, INGEST, require
from fraudlog.api.bodies import INGEST_MEDIA_TYPES, read_ingest_body
from fraudlog.api.ingest import receipts_response, repeated_problem
from fraudlog.api.openapi import ID_SCHEMA, one_or_many, operation_with_body
from fraudlog.api.problems import AUTH_PROBLEMS, UNKNOWN_TRANSACTION, Problem, problem_responses
from fraudlog.api.schemas import IngestReceipt
from fraudlog.config import MAX_BATCH_ITEMS
from fraudlog.domain.events import ID_PATTERN, TransactionIn
from fraudlog.domain.validation import decode_one_or_many
from fraudlog.ingest.appending import Ingest, RepeatedWithDifferentBody
from fraudlog.models.registry import ModelRegistry
from fraudlog.responses.transaction import TransactionView
from fraudlog.views.transaction import load_transaction_view


class TransactionController(Controller):
    path = "/v1/transactions"
    tags = ["transactions"]

    @post(
        "/",
        status_code=202,
        operation_id="postTransactions",
        summary="Append one transaction or a batch of up to 10,000 (all-or-nothing)",
        operation_class=operation_with_body(one_or_many(TransactionIn, MAX_BATCH_ITEMS), INGEST_MEDIA_TYPES),
        guards=[require(INGEST)], security=API_KEY_SECURITY,
        responses={200: ResponseSpec(IngestReceipt | list[IngestReceipt], generate_examples=False,
                                     description="Everything was recorded before: the original positions"),
                   **problem_responses(400, *AUTH_PROBLEMS, 409, 413, 415, 422, 503)},
    )
    async def post_transactions(self, request: Request[Any, Any, Any],
                                ingest: NamedDependency[Ingest],
                                ) -> Response[IngestReceipt | list[IngestReceipt]]:
        body, body_format = await read_ingest_body(request)
        items, as_array = decode_one_or_many(body, TransactionIn, ingest.max_batch_items, ingest.limits,
                                             body_format)
        try:
            outcome = await ingest.append_transactions(items)
        except RepeatedWithDifferentBody as exc:
            raise repeated_problem(exc) from exc
        return receipts_response(outcome, as_array, [tx.transaction_id for tx in items])

    @get("/{transaction_id:str}", operation_id="getTransaction", summary="A transaction and what was derived from it",
         guards=[require(ANALYST)], security=API_KEY_SECURITY, responses=problem_responses(400, *AUTH_PROBLEMS, 404),
         sync_to_thread=True)
    def get_transaction(self, transaction_id: Annotated[str, PathParameter(pattern=ID_PATTERN, schema_extra=ID_SCHEMA)],
                        engine: NamedDependency[Engine], registry: NamedDependency[ModelRegistry]) -> TransactionView:
        view = load_transaction_view(engine, transaction_id, registry)
        if view is None:
            raise Problem(UNKNOWN_TRANSACTION, f"no transaction {transaction_id!r} in the log")
        return view
