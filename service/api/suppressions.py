"""`/v1/cards/{card_id}/suppressions`: hold back a card's customer alerts until an event time, end that early,
and list what was done (docs/outcomes.md, "Suppression"). Every change is an event in the log."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter
from sqlalchemy.engine import Engine

from fraudlog.alerts import suppressions as suppressing
from fraudlog.alerts.suppressions import Change, UnknownSuppression
from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, Authenticator, require
from fraudlog.api.bodies import read_json_body
from fraudlog.api.openapi import ID_SCHEMA, RawSchema, inline_schema, operation_with_body
from fraudlog.api.problems import AUTH_PROBLEMS, UNKNOWN_SUPPRESSION, Problem, problem_responses
from fraudlog.config import Settings
from fraudlog.domain.events import ID_PATTERN, SuppressionIn, format_time
from fraudlog.domain.suppressions import Suppression
from fraudlog.domain.validation import decode_object
from fraudlog.responses.suppressions import SuppressionList, SuppressionView

CardId = Annotated[str, PathParameter(pattern=ID_PATTERN, schema_extra=ID_SCHEMA)]


class SuppressionController(Controller):
    path = "/v1/cards/{card_id:str}/suppressions"
    tags = ["suppressions"]
    guards = [require(ANALYST)]
    security = API_KEY_SECURITY

    @post("/", status_code=201, operation_id="addSuppression",
          summary="Hold back the card's customer alerts until an event time; a retry is a duplicate",
          operation_class=operation_with_body(RawSchema(raw=inline_schema(SuppressionIn))),
          responses={200: ResponseSpec(SuppressionView, generate_examples=False,
                                       description="The same suppression was recorded before"),
                     **problem_responses(400, *AUTH_PROBLEMS, 413, 415, 422, 503)})
    async def add_suppression(self, card_id: CardId, request: Request[Any, Any, Any], engine: NamedDependency[Engine],
                  settings: NamedDependency[Settings], authenticator: NamedDependency[Authenticator],
                  ) -> Response[SuppressionView]:
        body = decode_object(await read_json_body(request), SuppressionIn, settings.limits)
        actor = _actor(authenticator, request)
        change = await anyio.to_thread.run_sync(suppressing.suppress, engine, card_id, body, actor)
        return _answer(change, created=201)

    @delete("/{suppression_id:str}", status_code=202, operation_id="endSuppression",
            summary="End a suppression now: the card's later transactions alert again; a retry is a duplicate",
            responses={200: ResponseSpec(SuppressionView, generate_examples=False,
                                         description="The suppression was ended before"),
                       202: ResponseSpec(SuppressionView, generate_examples=False, description="Ended"),
                       **problem_responses(400, *AUTH_PROBLEMS, 404, 503)})
    async def end_suppression(self, card_id: CardId, suppression_id: Annotated[str, PathParameter(max_length=36)],
                  request: Request[Any, Any, Any], engine: NamedDependency[Engine],
                  authenticator: NamedDependency[Authenticator]) -> Response[SuppressionView]:
        try:
            change = await anyio.to_thread.run_sync(suppressing.end, engine, card_id, suppression_id,
                                                    _actor(authenticator, request))
        except UnknownSuppression as exc:
            raise Problem(UNKNOWN_SUPPRESSION, str(exc)) from exc
        return _answer(change, created=202)

    @get("/", operation_id="listSuppressions", summary="The card's suppressions, oldest first", sync_to_thread=True,
         responses=problem_responses(400, *AUTH_PROBLEMS))
    def list_suppressions(self, card_id: CardId, engine: NamedDependency[Engine]) -> SuppressionList:
        return SuppressionList(items=[_view(s, "listed") for s in suppressing.of_card(engine, card_id)])


def _actor(authenticator: Authenticator, request: Request[Any, Any, Any]) -> str:
    principal = authenticator.authenticate(request.headers.get("authorization"))
    return principal.name if principal is not None else "anonymous"


def _answer(change: Change, *, created: int) -> Response[SuppressionView]:
    status = "duplicate" if change.duplicate else "recorded"
    return Response(_view(change.suppression, status), status_code=200 if change.duplicate else created)


def _view(suppression: Suppression, status: str) -> SuppressionView:
    return SuppressionView(suppression_id=suppression.suppression_id, card_id=suppression.card_id,
                           until=format_time(suppression.until), reason=suppression.reason, actor=suppression.actor,
                           position=suppression.position, ended_at=suppression.ended_at, status=status)


