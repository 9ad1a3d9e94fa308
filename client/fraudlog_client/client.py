"""The Python clients of a running fraudlog: `FraudlogClient` (sync) and `AsyncFraudlogClient` (asyncio).

Both cover the API a data scientist uses from a notebook: submit, labels, predict and compare, the prediction
feed (pages, and a stream that resumes by itself), alerts, reviews, suppressions and models. They decode every
answer into the Structs the server encoded it from (`ModelSummary`, `ModelDetail`, `PredictionItem`, ...), so a
notebook gets typed fields, and the two never disagree.

The two clients share everything but the waiting: each method of `Requests` describes one call as data (a
`Request`: method, path, body, how to decode the answer, whether it is safe to retry), `_next_attempt` decides
what an answer means (done, retry after so many seconds, or a `ClientError`), and `_Follow` holds what the
prediction stream does between events. The sync client executes them on `httpx.Client`, the async one on
`httpx.AsyncClient`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import httpx
import msgspec

from fraudlog_client.bodies import LabelBody, TransactionBody, format_time
from fraudlog_client.responses.alerts import AlertsPage
from fraudlog_client.responses.feed import PredictionItem, PredictionsPage
from fraudlog_client.responses.models import ModelDetail, ModelSummary
from fraudlog_client.responses.quality import QualityReport
from fraudlog_client.responses.reviews import AlertReview, ReviewQueue
from fraudlog_client.responses.stats import Stats
from fraudlog_client.responses.suppressions import SuppressionList, SuppressionView
from fraudlog_client.responses.transaction import TransactionView
from fraudlog_client.schemas import IngestReceipt, OnDemandPrediction, VersionComparison, VersionPrediction
from fraudlog_client.sse import ServerSentEvent, aparse_events, parse_events

T = TypeVar("T")
U = TypeVar("U")

# A query parameter as httpx sends it; None is left out (`_query`).
QueryValue = str | int | float | bool | None
Encoding = Literal["json", "msgpack"]
ATTEMPTS = 5  # of an ingest POST (idempotent: a retry is a duplicate)


class ClientError(Exception):
    """A request failed in a way a retry will not mend (refused key, bad input, server gone); one line."""


class StreamIdle(ClientError):
    """`follow(idle_timeout=...)`: nothing arrived on the prediction stream, not an event and not a heartbeat,
    for `idle_timeout` seconds. `cursor` is the last prediction's (`follow(after=cursor)` goes on from there)."""

    def __init__(self, message: str, cursor: str | None) -> None:
        super().__init__(message)
        self.cursor = cursor


@dataclass(frozen=True, slots=True)
class Request(Generic[T]):
    """One call of the API as data: what to send, how to read a successful answer, and whether it is safe to
    send again (ingest is idempotent: a retry of an acknowledged body is a duplicate)."""

    method: str
    path: str
    decode: Callable[[bytes], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    retry: bool = False

    def then(self, change: Callable[[T], U]) -> Request[U]:
        """The same call, its decoded answer passed through `change` (a page's items, say)."""
        decode = self.decode
        return Request(self.method, self.path, lambda content: change(decode(content)), self.params, self.json,
                       self.content, self.headers, self.retry)


def _decoder(into: type[T]) -> Callable[[bytes], T]:
    return lambda content: msgspec.json.decode(content, type=into)


def _receipts(content: bytes) -> list[IngestReceipt]:
    result = msgspec.json.decode(content, type=list[IngestReceipt] | IngestReceipt)
    return result if isinstance(result, list) else [result]


class Requests:
    """Each method of the API as a `Request`: the one place a path, a body or an answer's type is written."""

    def __init__(self, encoding: Encoding = "json") -> None:
        self.encoding = encoding

    def post(self, path: str, body: Any) -> Request[list[IngestReceipt]]:
        """An ingest body (JSON or MessagePack), retried when that is safe; the receipts."""
        if self.encoding == "msgpack":
            return Request("POST", path, _receipts, content=msgspec.msgpack.encode(body),
                           headers={"Content-Type": "application/msgpack"}, retry=True)
        return Request("POST", path, _receipts, json=body, retry=True)

    def get(self, path: str, params: Mapping[str, Any]) -> Request[Any]:
        return Request("GET", path, msgspec.json.decode, params=params)

    def submit(self, transactions: TransactionBody | Sequence[TransactionBody]) -> Request[list[IngestReceipt]]:
        return self.post("/v1/transactions", transactions)

    def label(self, labels: LabelBody | Sequence[LabelBody]) -> Request[list[IngestReceipt]]:
        return self.post("/v1/labels", labels)

    def predict(self, transaction: TransactionBody, model_version: int | None) -> Request[OnDemandPrediction]:
        body: dict[str, TransactionBody | int] = {"transaction": transaction}
        if model_version is not None:
            body["model_version"] = model_version
        return Request("POST", "/v1/predict", _decoder(OnDemandPrediction), json=body)

    def compare(self, transaction: TransactionBody, versions: Sequence[int] | Literal["live"],
                ) -> Request[list[VersionPrediction]]:
        body = {"transaction": transaction, "model_versions": versions if versions == "live" else list(versions)}
        return Request("POST", "/v1/predict", _decoder(VersionComparison), json=body).then(lambda c: c.predictions)

    def predictions(self, after: str, limit: int, filters: dict[str, QueryValue]) -> Request[PredictionsPage]:
        return Request("GET", "/v1/predictions", _decoder(PredictionsPage),
                       params={"after": after, "limit": limit, **_query(filters)})

    def alerts(self, params: dict[str, QueryValue]) -> Request[AlertsPage]:
        return Request("GET", "/v1/alerts", _decoder(AlertsPage), params=_query(params))

    def review(self, alert_id: str, history: int) -> Request[AlertReview]:
        return Request("GET", f"/v1/alerts/{alert_id}", _decoder(AlertReview), params={"history": history})

    def reviews(self, order: str, limit: int, history: int) -> Request[ReviewQueue]:
        return Request("GET", "/v1/reviews", _decoder(ReviewQueue),
                       params={"order": order, "limit": limit, "history": history})

    def answer(self, alert_id: str, outcome: str, answered_by: str, note: str | None) -> Request[IngestReceipt]:
        body: dict[str, str] = {"outcome": outcome, "answered_by": answered_by}
        if note is not None:
            body["note"] = note
        return Request("POST", f"/v1/alerts/{alert_id}/outcome", _decoder(IngestReceipt), json=body)

    def suppress(self, card_id: str, until: datetime, reason: str) -> Request[SuppressionView]:
        return Request("POST", f"/v1/cards/{card_id}/suppressions", _decoder(SuppressionView),
                       json={"until": format_time(until), "reason": reason})

    def end_suppression(self, card_id: str, suppression_id: str) -> Request[SuppressionView]:
        return Request("DELETE", f"/v1/cards/{card_id}/suppressions/{suppression_id}", _decoder(SuppressionView))

    def suppressions(self, card_id: str) -> Request[list[SuppressionView]]:
        return Request("GET", f"/v1/cards/{card_id}/suppressions", _decoder(SuppressionList)).then(lambda s: s.items)

    def models(self) -> Request[list[ModelSummary]]:
        return Request("GET", "/v1/models", _decoder(list[ModelSummary]))

    def model(self, version: int) -> Request[ModelDetail]:
        return Request("GET", f"/v1/models/{version}", _decoder(ModelDetail))

    def quality(self, version: int, bucket: str | None, every: int | None, limit: int | None,
                ) -> Request[QualityReport]:
        params = {name: value for name, value in (("bucket", bucket), ("every", every), ("limit", limit))
                  if value is not None}
        return Request("GET", f"/v1/models/{version}/quality", _decoder(QualityReport), params=params)

    def transaction(self, transaction_id: str) -> Request[TransactionView]:
        return Request("GET", f"/v1/transactions/{transaction_id}", _decoder(TransactionView))

    def stats(self) -> Request[Stats]:
        return Request("GET", "/v1/stats", _decoder(Stats))


def _next_attempt(request: Request[Any], attempt: int, url: str, response: httpx.Response | None,
                  error: httpx.TransportError | None) -> float | None:
    """What an attempt's outcome means: None, the answer is the result; seconds to wait before the next
    attempt; or a `ClientError` raised here (a refusal, or a failure when no retry is left or safe)."""
    retry = request.retry and attempt < ATTEMPTS - 1
    if error is not None or response is None:
        if retry:
            return 0.2 * 2**attempt
        raise ClientError(f"cannot reach {url}: {error}") from error
    if retry and response.status_code in (429, 503):
        return float(response.headers.get("Retry-After", 0.5))
    if response.status_code >= 300:
        _raise_for(response)
    return None


def _send_arguments(request: Request[Any]) -> dict[str, Any]:
    return {"params": request.params, "json": request.json, "content": request.content, "headers": request.headers}


class _Follow:
    """The prediction stream's state between events, shared by both clients: the request that (re)opens it
    with `Last-Event-ID`, what each event and each failure means, and the backoff."""

    def __init__(self, owner: FraudlogClient | AsyncFraudlogClient, filters: dict[str, QueryValue], *,
                 reconnect: bool, give_up_after: float | None, retry_seconds: float, max_retry_seconds: float,
                 idle_timeout: float | None) -> None:
        self.owner, self.params = owner, _query(filters)
        self.reconnect, self.give_up_after, self.idle_timeout = reconnect, give_up_after, idle_timeout
        self.retry_seconds, self.max_retry_seconds = retry_seconds, max_retry_seconds
        self.delay = retry_seconds
        self.failing_since: float | None = None

    def open(self) -> dict[str, Any]:
        """The arguments of `stream(...)`: from the owner's cursor, reading with the idle timeout (no read
        timeout without one: the server's heartbeat is what keeps a quiet stream alive)."""
        headers = {"Accept": "text/event-stream"}
        if self.owner.cursor is not None:
            headers["Last-Event-ID"] = self.owner.cursor
        return {"method": "GET", "url": "/v1/predictions/stream", "params": self.params, "headers": headers,
                "timeout": httpx.Timeout(10.0, read=self.idle_timeout)}

    def must_read_and_raise(self, response: httpx.Response) -> bool:
        """Raises `_Retry` on an answer worth retrying; True when the answer is a refusal (read it, then
        `raise_refusal`), False when the stream is open."""
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"answered {response.status_code}", float(response.headers.get("Retry-After", 0)))
        return response.status_code != 200

    def received(self, event: ServerSentEvent) -> PredictionItem | None:
        """The prediction an event carries (the owner's cursor moves to it), if it carries one."""
        if event.event == "message":
            item = msgspec.json.decode(event.data, type=PredictionItem)
            self.owner.cursor = event.id
            self.delay, self.failing_since = self.retry_seconds, None
            return item
        if event.event == "start":  # where a stream without a cursor began: resume from there
            self.owner.cursor = event.id
        return None

    def failed(self, exc: httpx.TransportError | _Retry) -> float:
        """Seconds to wait before reconnecting; raises `StreamIdle` after the idle timeout, `ClientError` when
        reconnecting is off or has failed for `give_up_after` seconds."""
        if isinstance(exc, httpx.ReadTimeout) and self.idle_timeout is not None:
            raise StreamIdle(f"the prediction stream at {self.owner.url} sent nothing, not even a heartbeat, for "
                             f"{self.idle_timeout:g} s", self.owner.cursor) from exc
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        if not self.reconnect or (self.give_up_after is not None and now - self.failing_since > self.give_up_after):
            raise ClientError(f"the prediction stream at {self.owner.url} failed: {exc}") from exc
        wait = exc.seconds if isinstance(exc, _Retry) and exc.seconds else self.delay
        self.delay = min(self.max_retry_seconds, self.delay * 2)
        return wait


class _Base:
    """What both clients hold: the base URL, the body encoding, the request descriptions, the stream's cursor."""

    def __init__(self, url: str, encoding: Encoding) -> None:
        self.url = url.rstrip("/")
        self.encoding = encoding
        self.requests = Requests(encoding)
        self.cursor: str | None = None  # where `follow` stands: the cursor of the last prediction it yielded

    @staticmethod
    def _headers(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class FraudlogClient(_Base):
    """A typed client of a running fraudlog, for scripts and notebooks; on httpx.

    >>> client = FraudlogClient("http://127.0.0.1:8000", api_key="...")
    >>> client.submit({"transaction_id": "tx-1", "amount": 12.5, "event_time": "2026-11-28T03:00:00Z"})
    >>> client.compare(transaction, "live")          # one row per serving version
    >>> for prediction in client.follow(alerts=True):  # resumes by itself after any disconnect
    ...     print(prediction.transaction_id, prediction.score)

    `encoding="msgpack"` sends ingest bodies (`submit`, `label`) as MessagePack: fewer bytes, and native
    datetimes; the server decodes them into the same Structs, so a retry in either encoding is a duplicate.

    Every method raises `ClientError` with a one-line message when the server refuses the request or
    cannot be reached (after the retries that are safe: ingest is idempotent, reads have no effect).
    `AsyncFraudlogClient` has the same methods, to be awaited.
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None, encoding: Encoding = "json") -> None:
        super().__init__(url, encoding)
        self.http = httpx.Client(base_url=self.url, headers=self._headers(api_key), timeout=timeout,
                                 transport=transport)

    def __enter__(self) -> FraudlogClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def execute(self, request: Request[T]) -> T:
        """Send `request`, retrying what is safe to retry; its decoded answer."""
        attempt = 0
        while True:
            response, error = None, None
            try:
                response = self.http.request(request.method, request.path, **_send_arguments(request))
            except httpx.TransportError as exc:
                error = exc
            wait = _next_attempt(request, attempt, self.url, response, error)
            if wait is None and response is not None:
                return request.decode(response.content)
            time.sleep(wait or 0.0)
            attempt += 1

    # -- ingest ---------------------------------------------------------------------------------------------
    def submit(self, transactions: TransactionBody | Sequence[TransactionBody]) -> list[IngestReceipt]:
        """Append one transaction or a batch (all-or-nothing); the receipts, with each one's position."""
        return self.execute(self.requests.submit(transactions))

    def label(self, labels: LabelBody | Sequence[LabelBody]) -> list[IngestReceipt]:
        """Append one label (`{"transaction_id", "is_fraud"}`) or a batch."""
        return self.execute(self.requests.label(labels))

    def post(self, path: str, body: Any) -> list[IngestReceipt]:
        """POST an ingest body, retrying what is safe to retry (ingest is idempotent); the receipts."""
        return self.execute(self.requests.post(path, body))

    def get(self, path: str, **params: Any) -> Any:
        """GET any path; its JSON, decoded into Python values."""
        return self.execute(self.requests.get(path, params))

    # -- scoring on demand ----------------------------------------------------------------------------------
    def predict(self, transaction: TransactionBody, model_version: int | None = None) -> OnDemandPrediction:
        """Score without storing: the champion, or a pinned version (an unknown one is an error)."""
        return self.execute(self.requests.predict(transaction, model_version))

    def compare(self, transaction: TransactionBody, versions: Sequence[int] | Literal["live"] = "live",
                ) -> list[VersionPrediction]:
        """Score the same features with several versions (`"live"`: champion and challengers), one row each."""
        return self.execute(self.requests.compare(transaction, versions))

    # -- the prediction feed --------------------------------------------------------------------------------
    def predictions(self, after: str = "0", limit: int = 100, **filters: QueryValue) -> PredictionsPage:
        """One page of the feed: its items and `next_cursor`; filters: versions="all", model_version=N,
        min_score=x, alerts=True, features=True, explain=True (alerts' stored reasons)."""
        return self.execute(self.requests.predictions(after, limit, filters))

    def follow(self, after: str | None = None, *, reconnect: bool = True, give_up_after: float | None = None,
               retry_seconds: float = 0.5, max_retry_seconds: float = 5.0, idle_timeout: float | None = None,
               **filters: QueryValue) -> Iterator[PredictionItem]:
        """Every prediction after `after` ("0": from the beginning; None: from now) as the server commits it,
        in log order, each once.

        On a dropped connection, a server restart, a 5xx or a cut-off for reading too slowly, it reconnects
        with `Last-Event-ID` and goes on where it stopped (unless `reconnect=False`); it gives up with
        `ClientError` after `give_up_after` seconds without a connection (None: never). A refused key or a
        bad filter is a `ClientError` at once. With `idle_timeout`, it raises `StreamIdle` when nothing, not
        an event and not a heartbeat (the server sends one every 15 s by default), arrives for that many
        seconds. `self.cursor` is the cursor of the last prediction yielded."""
        self.cursor = after
        follow = _Follow(self, filters, reconnect=reconnect, give_up_after=give_up_after,
                         retry_seconds=retry_seconds, max_retry_seconds=max_retry_seconds, idle_timeout=idle_timeout)
        while True:
            try:
                with self.http.stream(**follow.open()) as response:
                    if follow.must_read_and_raise(response):
                        response.read()
                        _raise_for(response)
                    for event in parse_events(response.iter_lines()):
                        if (item := follow.received(event)) is not None:
                            yield item
                wait = retry_seconds  # the server ended the stream (a cut-off, a shutdown): resume
            except (httpx.TransportError, _Retry) as exc:
                wait = follow.failed(exc)
            if not reconnect:
                return
            time.sleep(wait)

    # -- alerts, models, transactions -----------------------------------------------------------------------
    def alerts(self, **params: QueryValue) -> AlertsPage:
        """A page of the alerts outbox: status=, since=, card_id=, limit=, cursor=."""
        return self.execute(self.requests.alerts(params))

    def review(self, alert_id: str, history: int = 10) -> AlertReview:
        """One alert as a reviewer sees it: its transaction, reasons, the card's last `history` transactions,
        the answers so far and the effective label."""
        return self.execute(self.requests.review(alert_id, history))

    def reviews(self, order: Literal["newest", "score"] = "newest", limit: int = 20, history: int = 10,
                ) -> ReviewQueue:
        """The review queue: alerts whose transaction has no label yet, newest or highest score first."""
        return self.execute(self.requests.reviews(order, limit, history))

    def answer(self, alert_id: str, outcome: Literal["confirmed_fraud", "not_fraud"],
               answered_by: Literal["customer", "analyst"] = "analyst", note: str | None = None) -> IngestReceipt:
        """Answer an alert: the label of its transaction, with `answered_by` as its source; a retry is a duplicate."""
        return self.execute(self.requests.answer(alert_id, outcome, answered_by, note))

    def suppress(self, card_id: str, until: datetime, reason: str) -> SuppressionView:
        """Hold back the card's customer alerts until `until` (event time); the same call again is a duplicate."""
        return self.execute(self.requests.suppress(card_id, until, reason))

    def end_suppression(self, card_id: str, suppression_id: str) -> SuppressionView:
        return self.execute(self.requests.end_suppression(card_id, suppression_id))

    def suppressions(self, card_id: str) -> list[SuppressionView]:
        return self.execute(self.requests.suppressions(card_id))

    def models(self) -> list[ModelSummary]:
        return self.execute(self.requests.models())

    def model(self, version: int) -> ModelDetail:
        return self.execute(self.requests.model(version))

    def quality(self, version: int, *, bucket: str | None = None, every: int | None = None,
                limit: int | None = None) -> QualityReport:
        """The version's quality over time, oldest bucket first: per `bucket` of event time ("1h", "1d"...) or
        `every` N predictions (one of them; neither: the server's default), newest `limit` buckets."""
        return self.execute(self.requests.quality(version, bucket, every, limit))

    def transaction(self, transaction_id: str) -> TransactionView:
        return self.execute(self.requests.transaction(transaction_id))

    def stats(self) -> Stats:
        return self.execute(self.requests.stats())


class AsyncFraudlogClient(_Base):
    """`FraudlogClient` for asyncio, on `httpx.AsyncClient`: the same methods, awaited (`follow` is an async
    iterator), the same requests and answers, the same retries and errors.

    >>> async with AsyncFraudlogClient("http://127.0.0.1:8000", api_key="...") as client:
    ...     await client.submit(transactions)
    ...     async for prediction in client.follow(after="0", idle_timeout=60):
    ...         print(prediction.transaction_id, prediction.score)
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None, encoding: Encoding = "json") -> None:
        super().__init__(url, encoding)
        self.http = httpx.AsyncClient(base_url=self.url, headers=self._headers(api_key), timeout=timeout,
                                      transport=transport)

    async def __aenter__(self) -> AsyncFraudlogClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def execute(self, request: Request[T]) -> T:
        """Send `request`, retrying what is safe to retry; its decoded answer."""
        attempt = 0
        while True:
            response, error = None, None
            try:
                response = await self.http.request(request.method, request.path, **_send_arguments(request))
            except httpx.TransportError as exc:
                error = exc
            wait = _next_attempt(request, attempt, self.url, response, error)
            if wait is None and response is not None:
                return request.decode(response.content)
            await asyncio.sleep(wait or 0.0)
            attempt += 1

    async def submit(self, transactions: TransactionBody | Sequence[TransactionBody]) -> list[IngestReceipt]:
        """Append one transaction or a batch (all-or-nothing); the receipts, with each one's position."""
        return await self.execute(self.requests.submit(transactions))

    async def label(self, labels: LabelBody | Sequence[LabelBody]) -> list[IngestReceipt]:
        """Append one label (`{"transaction_id", "is_fraud"}`) or a batch."""
        return await self.execute(self.requests.label(labels))

    async def post(self, path: str, body: Any) -> list[IngestReceipt]:
        """POST an ingest body, retrying what is safe to retry (ingest is idempotent); the receipts."""
        return await self.execute(self.requests.post(path, body))

    async def get(self, path: str, **params: Any) -> Any:
        """GET any path; its JSON, decoded into Python values."""
        return await self.execute(self.requests.get(path, params))

    async def predict(self, transaction: TransactionBody, model_version: int | None = None) -> OnDemandPrediction:
        """Score without storing: the champion, or a pinned version (an unknown one is an error)."""
        return await self.execute(self.requests.predict(transaction, model_version))

    async def compare(self, transaction: TransactionBody, versions: Sequence[int] | Literal["live"] = "live",
                      ) -> list[VersionPrediction]:
        """Score the same features with several versions (`"live"`: champion and challengers), one row each."""
        return await self.execute(self.requests.compare(transaction, versions))

    async def predictions(self, after: str = "0", limit: int = 100, **filters: QueryValue) -> PredictionsPage:
        """One page of the feed (see `FraudlogClient.predictions`)."""
        return await self.execute(self.requests.predictions(after, limit, filters))

    async def follow(self, after: str | None = None, *, reconnect: bool = True, give_up_after: float | None = None,
                     retry_seconds: float = 0.5, max_retry_seconds: float = 5.0, idle_timeout: float | None = None,
                     **filters: QueryValue) -> AsyncIterator[PredictionItem]:
        """Every prediction after `after`, as the server commits it (see `FraudlogClient.follow`: the same
        reconnection with `Last-Event-ID`, the same `StreamIdle` after `idle_timeout` seconds of silence)."""
        self.cursor = after
        follow = _Follow(self, filters, reconnect=reconnect, give_up_after=give_up_after,
                         retry_seconds=retry_seconds, max_retry_seconds=max_retry_seconds, idle_timeout=idle_timeout)
        while True:
            try:
                async with self.http.stream(**follow.open()) as response:
                    if follow.must_read_and_raise(response):
                        await response.aread()
                        _raise_for(response)
                    async for event in aparse_events(response.aiter_lines()):
                        if (item := follow.received(event)) is not None:
                            yield item
                wait = retry_seconds  # the server ended the stream (a cut-off, a shutdown): resume
            except (httpx.TransportError, _Retry) as exc:
                wait = follow.failed(exc)
            if not reconnect:
                return
            await asyncio.sleep(wait)

    async def alerts(self, **params: QueryValue) -> AlertsPage:
        """A page of the alerts outbox: status=, since=, card_id=, limit=, cursor=."""
        return await self.execute(self.requests.alerts(params))

    async def review(self, alert_id: str, history: int = 10) -> AlertReview:
        """One alert as a reviewer sees it (see `FraudlogClient.review`)."""
        return await self.execute(self.requests.review(alert_id, history))

    async def reviews(self, order: Literal["newest", "score"] = "newest", limit: int = 20, history: int = 10,
                      ) -> ReviewQueue:
        """The review queue: alerts whose transaction has no label yet, newest or highest score first."""
        return await self.execute(self.requests.reviews(order, limit, history))

    async def answer(self, alert_id: str, outcome: Literal["confirmed_fraud", "not_fraud"],
                     answered_by: Literal["customer", "analyst"] = "analyst", note: str | None = None,
                     ) -> IngestReceipt:
        """Answer an alert: the label of its transaction, with `answered_by` as its source; a retry is a duplicate."""
        return await self.execute(self.requests.answer(alert_id, outcome, answered_by, note))

    async def suppress(self, card_id: str, until: datetime, reason: str) -> SuppressionView:
        """Hold back the card's customer alerts until `until` (event time); the same call again is a duplicate."""
        return await self.execute(self.requests.suppress(card_id, until, reason))

    async def end_suppression(self, card_id: str, suppression_id: str) -> SuppressionView:
        return await self.execute(self.requests.end_suppression(card_id, suppression_id))

    async def suppressions(self, card_id: str) -> list[SuppressionView]:
        return await self.execute(self.requests.suppressions(card_id))

    async def models(self) -> list[ModelSummary]:
        return await self.execute(self.requests.models())

    async def model(self, version: int) -> ModelDetail:
        return await self.execute(self.requests.model(version))

    async def quality(self, version: int, *, bucket: str | None = None, every: int | None = None,
                      limit: int | None = None) -> QualityReport:
        """The version's quality over time (see `FraudlogClient.quality`)."""
        return await self.execute(self.requests.quality(version, bucket, every, limit))

    async def transaction(self, transaction_id: str) -> TransactionView:
        return await self.execute(self.requests.transaction(transaction_id))

    async def stats(self) -> Stats:
        return await self.execute(self.requests.stats())


class _Retry(Exception):
    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


def _raise_for(response: httpx.Response) -> None:
    """A problem document as one line: `401 Invalid API key`, `422 Invalid fields: /amount ...`."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    title = problem.get("title") or response.reason_phrase or "error"
    detail = problem.get("detail") or "; ".join(f"{e.get('pointer')}: {e.get('detail')}"
                                                for e in problem.get("errors", []) if isinstance(e, dict))
    where = f"{response.request.method} {response.request.url.path}"
    raise ClientError(f"{where} answered {response.status_code} {title}" + (f": {detail}" if detail else ""))


def _query(filters: Mapping[str, QueryValue]) -> dict[str, str | int | float]:
    """Query parameters as the API spells them: booleans as true/false, None left out."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in filters.items() if v is not None}
