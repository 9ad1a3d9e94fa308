"""`/v1/labels`: the truth about transactions, appended to the log as events."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from fraudlog.api.auth import API_KEY_SECURITY, INGEST, require
from fraudlog.api.bodies import INGEST_MEDIA_TYPES, read_ingest_body
from fraudlog.api.ingest import receipts_response
from fraudlog.api.openapi import one_or_many, operation_with_body
from fraudlog.api.problems import AUTH_PROBLEMS, problem_responses
from fraudlog.api.schemas import IngestReceipt
from fraudlog.config import MAX_BATCH_ITEMS
from fraudlog.domain.events import LabelIn
from fraudlog.domain.validation import decode_one_or_many
from fraudlog.ingest.appending import Ingest


class LabelController(Controller):
    path = "/v1/labels"
    tags = ["labels"]

    @post(
        "/",
        status_code=202,
        operation_id="postLabels",
        summary="Append one label or a batch of up to 10,000; a different verdict is recorded as a correction",
        operation_class=operation_with_body(one_or_many(LabelIn, MAX_BATCH_ITEMS), INGEST_MEDIA_TYPES),
        guards=[require(INGEST)], security=API_KEY_SECURITY,
        responses={200: ResponseSpec(IngestReceipt | list[IngestReceipt], generate_examples=False,
                                     description="Every label repeats the latest verdict: the original positions"),
                   **problem_responses(400, *AUTH_PROBLEMS, 413, 415, 422, 503)},
    )
    async def post_labels(self, request: Request[Any, Any, Any],
                          ingest: NamedDependency[Ingest]) -> Response[
            IngestReceipt | list[IngestReceipt]]:
        body, body_format = await read_ingest_body(request)
        items, as_array = decode_one_or_many(body, LabelIn, ingest.max_batch_items, ingest.limits, body_format)
        outcome = await ingest.append_labels(items)
        return receipts_response(outcome, as_array, [label.transaction_id for label in items])
