"""`/v1/alerts`: the alerts outbox, newest first, cursor-paginated; `/v1/alerts/{id}`: one alert as a person
reviews it; `/v1/alerts/{id}/outcome`: answers to them; `/v1/reviews`: the alerts waiting for an answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter
from sqlalchemy.engine import Engine

from fraudlog.alerts.outcomes import AlertNotDelivered, UnknownAlert, record_outcome
from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, Authenticator, require
from fraudlog.api.bodies import read_json_body
from fraudlog.api.openapi import ID_SCHEMA, RawSchema, inline_schema, operation_with_body
from fraudlog.api.problems import (
    ALERT_NOT_DELIVERED,
    AUTH_PROBLEMS,
    INVALID_QUERY,
    UNKNOWN_ALERT,
    Problem,
    problem_responses,
)
from fraudlog.api.schemas import IngestReceipt
from fraudlog.config import Settings
from fraudlog.domain.events import ID_PATTERN, AwareDateTime, OutcomeIn
from fraudlog.domain.validation import FieldError, decode_object
from fraudlog.responses.alerts import AlertsPage
from fraudlog.responses.reviews import AlertReview, ReviewQueue
from fraudlog.responses.statuses import AlertStatus
from fraudlog.store.outbox import MAX_PAGE, InvalidCursor, list_alerts
from fraudlog.views.alerts import alerts_page
from fraudlog.views.reviews import DEFAULT_HISTORY, MAX_HISTORY, MAX_QUEUE, ReviewOrder, alert_review, review_queue

HistoryLength = Annotated[int, QueryParameter(ge=1, le=MAX_HISTORY,
                                              description="how many of the card's recent transactions to show")]


class AlertController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]
    guards = [require(ANALYST)]
    security = API_KEY_SECURITY

    @get("/", operation_id="listAlerts", summary="The alerts outbox, newest first", sync_to_thread=True,
         responses=problem_responses(400, *AUTH_PROBLEMS, 422))
    def list_alerts(
        self,
        engine: NamedDependency[Engine],
        status: Annotated[AlertStatus | None, QueryParameter()] = None,
        since: Annotated[str | None, QueryParameter(description="RFC 3339 with an offset", format="date-time")] = None,
        card_id: Annotated[str | None, QueryParameter(pattern=ID_PATTERN, schema_extra=ID_SCHEMA)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> AlertsPage:
        try:  # parsed strictly: Litestar would read `since=4` as a Unix time
            since_time = None if since is None else _within_utc_range(msgspec.convert(since, AwareDateTime))
        except msgspec.ValidationError as exc:
            raise Problem(INVALID_QUERY,
                          errors=[FieldError("since", f"an RFC 3339 time with an offset: {exc}")]) from exc
        try:
            page = list_alerts(engine, status=status, since=since_time, card_id=card_id, limit=limit,
                               cursor=cursor)
        except InvalidCursor as exc:
            raise Problem(INVALID_QUERY, errors=[FieldError("cursor", str(exc))]) from exc
        return alerts_page(page)

    @get("/{alert_id:str}", operation_id="getAlert", sync_to_thread=True,
         summary="An alert as a person reviews it: its transaction, reasons, the card's history, the answers so far",
         responses=problem_responses(400, *AUTH_PROBLEMS, 404))
    def get_alert(self, alert_id: Annotated[str, PathParameter(max_length=36)], engine: NamedDependency[Engine],
                  history: HistoryLength = DEFAULT_HISTORY) -> AlertReview:
        review = alert_review(engine, alert_id, history)
        if review is None:
            raise Problem(UNKNOWN_ALERT, str(UnknownAlert(alert_id)))
        return review

    @post("/{alert_id:str}/outcome", status_code=202, operation_id="postAlertOutcome",
          summary="Answer an alert (customer or analyst): the label of its transaction; a retry is a duplicate",
          operation_class=operation_with_body(RawSchema(raw=inline_schema(OutcomeIn))),
          responses={200: ResponseSpec(IngestReceipt, generate_examples=False,
                                       description="The same answer was recorded before: its position"),
                     **problem_responses(400, *AUTH_PROBLEMS, 404, 409, 413, 415, 422, 503)})
    async def post_outcome(self, alert_id: Annotated[str, PathParameter(max_length=36)],
                           request: Request[Any, Any, Any], engine: NamedDependency[Engine],
                           settings: NamedDependency[Settings], authenticator: NamedDependency[Authenticator],
                           ) -> Response[IngestReceipt]:
        answer = decode_object(await read_json_body(request), OutcomeIn, settings.limits)
        principal = authenticator.authenticate(request.headers.get("authorization"))
        actor = principal.name if principal is not None else "anonymous"
        try:
            receipt = await anyio.to_thread.run_sync(record_outcome, engine, alert_id, answer, actor)
        except UnknownAlert as exc:
            raise Problem(UNKNOWN_ALERT, str(exc)) from exc
        except AlertNotDelivered as exc:
            raise Problem(ALERT_NOT_DELIVERED, str(exc)) from exc
        content = msgspec.convert(receipt, IngestReceipt, from_attributes=True)
        return Response(content, status_code=200 if receipt.status == "duplicate" else 202)


@get("/v1/reviews", operation_id="listReviews", tags=["alerts"], guards=[require(ANALYST)],
     security=API_KEY_SECURITY, sync_to_thread=True, responses=problem_responses(400, *AUTH_PROBLEMS),
     summary="The review queue: alerts whose transaction has no label yet, newest or highest score first")
def list_reviews(engine: NamedDependency[Engine],
                 order: Annotated[ReviewOrder, QueryParameter(description="newest first, or highest score first")]
                 = "newest",
                 limit: Annotated[int, QueryParameter(ge=1, le=MAX_QUEUE)] = 20,
                 history: HistoryLength = DEFAULT_HISTORY) -> ReviewQueue:
    return review_queue(engine, order=order, limit=limit, history=history)


def _within_utc_range(moment: datetime) -> datetime:
    """`moment` in UTC, clamped to the years 1-9999 that Python's datetime holds.

    A valid time near either end (0001-01-01T00:00:00+01:00) has no UTC datetime, and comparing it raised a
    500 (issue 27 #10). Clamping keeps its meaning for a lower bound: before, or after, every alert."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)
