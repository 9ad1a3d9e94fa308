"""Answering an ingest request: receipts, or the problem the batch is."""

from __future__ import annotations

import msgspec
from litestar import Response

from fraudlog.api.problems import INVALID_BODY, TRANSACTION_CONFLICT, Problem
from fraudlog.api.schemas import IngestReceipt
from fraudlog.domain.validation import FieldError
from fraudlog.ingest.appending import RepeatedWithDifferentBody, UnitOutcome


def repeated_problem(exc: RepeatedWithDifferentBody) -> Problem:
    return Problem(INVALID_BODY, str(exc), errors=exc.errors)


def receipts_response(outcome: UnitOutcome, as_array: bool, ids: list[str],
                      ) -> Response[IngestReceipt | list[IngestReceipt]]:
    """202 when anything new was stored, 200 when all of it was already there, 409 on a conflict."""
    if outcome.conflicts:
        errors = [FieldError(f"/{i}/transaction_id" if as_array else "/transaction_id",
                             f"{tx!r} was already recorded with a different body")
                  for i, tx in enumerate(ids) if tx in set(outcome.conflicts)]
        raise Problem(TRANSACTION_CONFLICT,
                      "the same transaction_id was sent before with a different body; nothing was stored",
                      errors=errors)
    status = 202 if any(r.status != "duplicate" for r in outcome.receipts) else 200
    receipts = msgspec.convert(outcome.receipts, list[IngestReceipt], from_attributes=True)
    content: list[IngestReceipt] | IngestReceipt = receipts if as_array else receipts[0]
    return Response(content, status_code=status)
