"""`/v1/predictions`: the prediction feed, paged (pull) and as Server-Sent Events (push).

Both read the predictions projection in log order and only below the feed's watermark (invariant 11), so
what a consumer has seen never gains a late prediction beneath it. The cursor is a log position; the
stream's `id:` is that cursor, so an `EventSource` that reconnects with `Last-Event-ID` resumes exactly
where it stopped, on any API process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import aclosing
from typing import Annotated, Any, Literal

import anyio
import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, Authenticator, require
from fraudlog.api.problems import (
    AUTH_PROBLEMS,
    INVALID_CURSOR,
    INVALID_QUERY,
    TOO_MANY_STREAMS,
    Problem,
    problem_responses,
)
from fraudlog.domain.events import MAX_VERSION
from fraudlog.domain.validation import FieldError
from fraudlog.feed.cursor import Cursor, InvalidCursor
from fraudlog.feed.hub import STREAM_CUT_OFF, PredictionHub, TooManyStreams
from fraudlog.responses.feed import PredictionsPage
from fraudlog.store.feed import FeedFilter
from fraudlog.views.feed import prediction_items

log = logging.getLogger("fraudlog.feed")
MAX_PAGE = 1_000
CURSOR_PATTERN = r"^[0-9]{1,18}(:[0-9]{1,9})?$"  # what `Cursor.parse` accepts, for the OpenAPI document
_encode = msgspec.json.Encoder().encode

Versions = Annotated[Literal["champion", "all"], QueryParameter(
    description="`champion` (default): the prediction that decided; `all`: challengers too")]
ModelVersion = Annotated[int | None, QueryParameter(ge=1, le=MAX_VERSION,
                                                    description="only this version's predictions")]
MinScore = Annotated[float | None, QueryParameter(description="only predictions scoring at least this")]
AlertsOnly = Annotated[bool, QueryParameter(description="only champion predictions at or above their threshold")]
WithFeatures = Annotated[bool, QueryParameter(description="include each prediction's features")]
WithReasons = Annotated[bool, QueryParameter(
    description="include each alert's stored reasons (null for a prediction that did not alert)")]


class PredictionController(Controller):
    path = "/v1/predictions"
    tags = ["predictions"]
    guards = [require(ANALYST)]
    security = API_KEY_SECURITY

    @get("/", operation_id="listPredictions", summary="Predictions in log order, after a cursor",
         responses=problem_responses(400, *AUTH_PROBLEMS, 422))
    async def list_predictions(
        self, prediction_hub: NamedDependency[PredictionHub],
        after: Annotated[str, QueryParameter(description="a cursor (`next_cursor`, or an event's `id`)",
                                             pattern=CURSOR_PATTERN)] = "0",
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
        versions: Versions = "champion", model_version: ModelVersion = None, min_score: MinScore = None,
        alerts: AlertsOnly = False, features: WithFeatures = False, explain: WithReasons = False,
    ) -> PredictionsPage:
        cursor = _cursor("after", after)
        hub = prediction_hub
        through = await hub.final_position()
        await _refuse_beyond_log(hub, "after", cursor, through)
        feed = FeedFilter(all_versions=versions == "all", model_version=model_version, min_score=min_score,
                          alerts_only=alerts, with_features=features, with_reasons=explain)
        read = await hub.read(cursor.complete_through, through, feed, limit)
        shown = prediction_items([i for i in read if not cursor.already_delivered(i.position, i.model_version)],
                                 explain=explain)
        # A full page ends on a position boundary (pages never split one); a short one read up to `through`.
        next_cursor = str(read[-1].position) if len(read) >= limit else str(max(through, cursor.complete_through))
        return PredictionsPage(items=shown, next_cursor=next_cursor)

    @get("/stream", operation_id="streamPredictions", media_type="text/event-stream",
         summary="Server-Sent Events: each prediction once it is final; resume with Last-Event-ID",
         responses=problem_responses(400, *AUTH_PROBLEMS, 422))
    async def stream_predictions(
        self, request: Request[Any, Any, Any], prediction_hub: NamedDependency[PredictionHub],
        authenticator: NamedDependency[Authenticator],
        after: Annotated[str | None, QueryParameter(
            description="a cursor (0: from the beginning); Last-Event-ID wins when sent; neither: from now",
            pattern=CURSOR_PATTERN)] = None,
        versions: Versions = "champion", model_version: ModelVersion = None, min_score: MinScore = None,
        alerts: AlertsOnly = False, features: WithFeatures = False, explain: WithReasons = False,
    ) -> Response[None]:
        resume = request.headers.get("last-event-id")
        cursor = _cursor("Last-Event-ID", resume) if resume else _cursor("after", after) if after else None
        if cursor is not None:
            await _refuse_beyond_log(prediction_hub, "Last-Event-ID" if resume else "after", cursor,
                                     await prediction_hub.final_position())
        feed = FeedFilter(all_versions=versions == "all", model_version=model_version, min_score=min_score,
                          alerts_only=alerts, with_features=features, with_reasons=explain)
        hub = prediction_hub
        if cursor is None:  # a new consumer without a cursor starts from now, as `tail -f` does
            cursor = Cursor(await hub.final_position())
        principal = authenticator.authenticate(request.headers.get("authorization"))
        key = principal.name if principal is not None else "anonymous"
        try:
            hub.open_stream(key)  # closed by the stream when it ends, however it ends
        except TooManyStreams as exc:
            raise Problem(TOO_MANY_STREAMS, str(exc), headers={"Retry-After": "5"}) from exc
        return EventStreamResponse(_EventStream(hub, feed, cursor, lambda: hub.close_stream(key)))


def _cursor(name: str, text: str) -> Cursor:
    try:
        return Cursor.parse(text)
    except InvalidCursor as exc:
        raise Problem(INVALID_CURSOR, errors=[FieldError(name, str(exc))]) from exc


async def _refuse_beyond_log(hub: PredictionHub, name: str, cursor: Cursor, final: int) -> None:
    """A cursor past the newest event was not handed out by this log: the database was restored from a backup,
    or the consumer read another deployment. Answering it with an empty page would let the consumer skip, for
    good, the predictions of the positions it claims to have seen (issue 27 #11). Well-formed, so not
    `invalid-cursor` (400) but `invalid-query` (422), as `/v1/alerts` answers a cursor it never handed out."""
    if cursor.position <= final:  # at or below the watermark: within the log, no query needed
        return
    last = await hub.last_position()
    if cursor.position > last:
        raise Problem(INVALID_QUERY, errors=[FieldError(name, (
            f"position {cursor.position} is beyond the end of the log (position {last}): was the database "
            f"restored? Resume from a cursor at or before {last}, or from 0 to read everything again"))])


class EventStreamResponse(Response[None]):
    """Hands the connection to an `_EventStream`, which writes the SSE body itself."""

    def __init__(self, stream: _EventStream) -> None:
        super().__init__(None, media_type="text/event-stream")
        self.stream = stream

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        return self.stream  # type: ignore[return-value]  # an ASGI app, which is all Litestar calls


class _EventStream:
    """The SSE body: `retry`, then each prediction as an event whose `id` is its cursor, heartbeats as
    comments, and on a cut-off an `event: cut-off` naming the cursor to resume from.

    Written as a raw ASGI app so a consumer that stops reading can be let go: the hub cancels the write
    that waits on it (a Litestar streaming response would wait on that write for ever).
    """

    def __init__(self, hub: PredictionHub, feed: FeedFilter, cursor: Cursor, on_close: Callable[[], None]) -> None:
        self.hub = hub
        self.feed = feed
        self.cursor = cursor
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no")]})
            # The starting cursor first, as the stream's id: a consumer that loses the connection before the
            # first prediction still resumes from here (EventSource keeps an id sent with an empty event).
            start = str(self.cursor).encode()
            greeting = b"retry: 1000\nevent: start\nid: " + start + b"\ndata: " + _encode({"cursor": str(self.cursor)})
            await send({"type": "http.response.body", "body": greeting + b"\n\n", "more_body": True})
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                cut_off = await self._pump(send)
                if cut_off:
                    with anyio.move_on_after(1.0):  # the consumer may not be reading at all
                        notice = _encode({"resume_after": str(self.cursor)})
                        await send({"type": "http.response.body", "body": b"event: cut-off\ndata: " + notice
                                    + b"\n\n", "more_body": False})
                else:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        finally:
            self.on_close()

    async def _pump(self, send: Send) -> bool:
        """Send until the consumer is cut off (returns True) or goes away (cancelled)."""
        with anyio.CancelScope() as scope:
            async with aclosing(self.hub.follow(self.feed, self.cursor, on_cut_off=scope.cancel)) as batches:
                async for batch in batches:
                    if not batch:
                        if not await self._sent(send, b": heartbeat\n\n"):
                            return True
                        continue
                    items = prediction_items(batch, explain=self.feed.with_reasons)
                    body = b"".join(b"id: " + item.cursor.encode() + b"\ndata: " + _encode(item) + b"\n\n"
                                    for item in items)
                    if not await self._sent(send, body):
                        return True
                    self.cursor = Cursor.parse(items[-1].cursor)
        return True

    async def _sent(self, send: Send, body: bytes) -> bool:
        """Write `body`; False, and the consumer counted as cut off, when it took nothing for two heartbeats.

        A stream far behind catches up by writing straight to its consumer, with no buffer to overflow: one
        that never reads blocked that write for ever, holding its slot and the API's memory (issue 27 #6)."""
        patience = 2 * self.hub.settings.heartbeat.total_seconds()
        with anyio.move_on_after(patience) as waited:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        if waited.cancelled_caught:
            STREAM_CUT_OFF.inc()
            log.warning("a prediction stream's consumer took nothing for %.0f s and was cut off", patience)
            return False
        return True


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()

