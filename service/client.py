"""The Python client of a running fraudlog, and a streamer of transactions with their labels arriving later.

`FraudlogClient` covers the API a data scientist uses from a notebook: submit, labels, predict and compare,
the prediction feed (pages, and a stream that resumes by itself), alerts and models. `stream` posts rows
at a rate with their labels some time later: `fraudlog simulate` and `fraudlog demo` use it.

The client decodes every answer into the Structs the server encoded it from (`ModelSummary`, `ModelDetail`,
`PredictionItem`, ...; exported here), so a notebook gets typed fields, and the two never disagree.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import httpx
import msgspec

from fraudlog.api.schemas import IngestReceipt, OnDemandPrediction, VersionComparison, VersionPrediction
from fraudlog.domain.events import LabelBody, LabelledTransaction, TransactionBody, format_time
from fraudlog.domain.records import Decision, Evidence, Lineage, LineageSummary, TrainingCode, TrainingDataLineage
from fraudlog.responses.alerts import AlertItem, AlertsPage
from fraudlog.responses.feed import PredictionItem, PredictionsPage
from fraudlog.responses.models import DecisionView, LiveMetrics, ModelDetail, ModelSummary
from fraudlog.responses.quality import QualityBucket, QualityReport
from fraudlog.responses.reviews import AlertReview, ReviewQueue
from fraudlog.responses.stats import Stats
from fraudlog.responses.suppressions import SuppressionList, SuppressionView
from fraudlog.responses.transaction import TransactionView
from fraudlog.sse import parse_events

__all__ = ["AlertItem", "AlertReview", "AlertsPage", "ClientError", "Decision", "DecisionView", "Evidence",
           "FraudlogClient", "IngestReceipt", "LabelBody", "Lineage", "LineageSummary", "LiveMetrics", "ModelDetail",
           "ModelSummary", "OnDemandPrediction", "PredictionItem", "PredictionsPage", "QualityBucket", "QualityReport",
           "ReviewQueue", "Stats", "StreamReport", "SuppressionView", "TrainingCode", "TrainingDataLineage",
           "TransactionBody", "TransactionView", "VersionPrediction", "stream"]
T = TypeVar("T")

# A transaction and whether it is a fraud, as `fraudlog.ml.datasets` reads them and `stream` sends them.
Row = LabelledTransaction
# A query parameter as httpx sends it; None is left out (`_query`).
QueryValue = str | int | float | bool | None


class _PendingLabel(NamedTuple):
    """A label `stream` holds until it is due: when and after how many transactions it was queued."""

    queued_at: float
    sent_then: int
    label: LabelBody


@dataclass
class StreamReport:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    labels: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


class ClientError(Exception):
    """A request failed in a way a retry will not mend (refused key, bad input, server gone); one line."""


class FraudlogClient:
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
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None,
                 encoding: Literal["json", "msgpack"] = "json") -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.encoding = encoding
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)
        self.cursor: str | None = None  # where `follow` stands: the cursor of the last prediction it yielded

    def __enter__(self) -> FraudlogClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- ingest ---------------------------------------------------------------------------------------------
    def submit(self, transactions: TransactionBody | Sequence[TransactionBody]) -> list[IngestReceipt]:
        """Append one transaction or a batch (all-or-nothing); the receipts, with each one's position."""
        return self.post("/v1/transactions", transactions)

    def label(self, labels: LabelBody | Sequence[LabelBody]) -> list[IngestReceipt]:
        """Append one label (`{"transaction_id", "is_fraud"}`) or a batch."""
        return self.post("/v1/labels", labels)

    # -- scoring on demand ----------------------------------------------------------------------------------
    def predict(self, transaction: TransactionBody, model_version: int | None = None) -> OnDemandPrediction:
        """Score without storing: the champion, or a pinned version (an unknown one is an error)."""
        body: dict[str, TransactionBody | int] = {"transaction": transaction}
        if model_version is not None:
            body["model_version"] = model_version
        return self._decoded(OnDemandPrediction, "POST", "/v1/predict", json=body)

    def compare(self, transaction: TransactionBody, versions: Sequence[int] | Literal["live"] = "live",
                ) -> list[VersionPrediction]:
        """Score the same features with several versions (`"live"`: champion and challengers), one row each."""
        body = {"transaction": transaction, "model_versions": versions if versions == "live" else list(versions)}
        return self._decoded(VersionComparison, "POST", "/v1/predict", json=body).predictions

    # -- the prediction feed --------------------------------------------------------------------------------
    def predictions(self, after: str = "0", limit: int = 100, **filters: QueryValue) -> PredictionsPage:
        """One page of the feed: its items and `next_cursor`; filters: versions="all", model_version=N,
        min_score=x, alerts=True, features=True, explain=True (alerts' stored reasons)."""
        return self._decoded(PredictionsPage, "GET", "/v1/predictions",
                             params={"after": after, "limit": limit, **_query(filters)})

    def follow(self, after: str | None = None, *, reconnect: bool = True, give_up_after: float | None = None,
               retry_seconds: float = 0.5, max_retry_seconds: float = 5.0, **filters: QueryValue,
               ) -> Iterator[PredictionItem]:
        """Every prediction after `after` ("0": from the beginning; None: from now) as the server commits it,
        in log order, each once.

        On a dropped connection, a server restart, a 5xx or a cut-off for reading too slowly, it reconnects
        with `Last-Event-ID` and goes on where it stopped (unless `reconnect=False`); it gives up with
        `ClientError` after `give_up_after` seconds without a connection (None: never). A refused key or a
        bad filter is a `ClientError` at once. `self.cursor` is the cursor of the last prediction yielded."""
        self.cursor = after
        delay, failing_since = retry_seconds, None
        while True:
            try:
                for item in self._follow_once(filters):
                    delay, failing_since = retry_seconds, None
                    yield item
                wait = retry_seconds  # the server ended the stream (a cut-off, a shutdown): resume
            except (httpx.TransportError, _Retry) as exc:
                failing_since = failing_since or time.monotonic()
                if not reconnect or (give_up_after is not None and time.monotonic() - failing_since > give_up_after):
                    raise ClientError(f"the prediction stream at {self.url} failed: {exc}") from exc
                wait = exc.seconds if isinstance(exc, _Retry) and exc.seconds else delay
                delay = min(max_retry_seconds, delay * 2)
            if not reconnect:
                return
            time.sleep(wait)

    def _follow_once(self, filters: dict[str, QueryValue]) -> Iterator[PredictionItem]:
        headers = {"Accept": "text/event-stream"}
        if self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        with self.http.stream("GET", "/v1/predictions/stream", params=_query(filters), headers=headers,
                              timeout=httpx.Timeout(10.0, read=None)) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retry(f"answered {response.status_code}", float(response.headers.get("Retry-After", 0)))
            if response.status_code != 200:
                response.read()
                _raise_for(response)
            for event in parse_events(response.iter_lines()):
                if event.event == "message":
                    item = msgspec.json.decode(event.data, type=PredictionItem)
                    self.cursor = event.id
                    yield item
                elif event.event == "start":  # where a stream without a cursor began: resume from there
                    self.cursor = event.id

    # -- alerts, models, transactions -----------------------------------------------------------------------
    def alerts(self, **params: QueryValue) -> AlertsPage:
        """A page of the alerts outbox: status=, since=, card_id=, limit=, cursor=."""
        return self._decoded(AlertsPage, "GET", "/v1/alerts", params=_query(params))

    def review(self, alert_id: str, history: int = 10) -> AlertReview:
        """One alert as a reviewer sees it: its transaction, reasons, the card's last `history` transactions,
        the answers so far and the effective label."""
        return self._decoded(AlertReview, "GET", f"/v1/alerts/{alert_id}", params={"history": history})

    def reviews(self, order: Literal["newest", "score"] = "newest", limit: int = 20, history: int = 10,
                ) -> ReviewQueue:
        """The review queue: alerts whose transaction has no label yet, newest or highest score first."""
        return self._decoded(ReviewQueue, "GET", "/v1/reviews",
                             params={"order": order, "limit": limit, "history": history})

    def answer(self, alert_id: str, outcome: Literal["confirmed_fraud", "not_fraud"],
               answered_by: Literal["customer", "analyst"] = "analyst", note: str | None = None) -> IngestReceipt:
        """Answer an alert: the label of its transaction, with `answered_by` as its source; a retry is a duplicate."""
        body: dict[str, str] = {"outcome": outcome, "answered_by": answered_by}
        if note is not None:
            body["note"] = note
        return self._decoded(IngestReceipt, "POST", f"/v1/alerts/{alert_id}/outcome", json=body)

    def suppress(self, card_id: str, until: datetime, reason: str) -> SuppressionView:
        """Hold back the card's customer alerts until `until` (event time); the same call again is a duplicate."""
        return self._decoded(SuppressionView, "POST", f"/v1/cards/{card_id}/suppressions",
                             json={"until": format_time(until), "reason": reason})

    def end_suppression(self, card_id: str, suppression_id: str) -> SuppressionView:
        return self._decoded(SuppressionView, "DELETE", f"/v1/cards/{card_id}/suppressions/{suppression_id}")

    def suppressions(self, card_id: str) -> list[SuppressionView]:
        return self._decoded(SuppressionList, "GET", f"/v1/cards/{card_id}/suppressions").items

    def models(self) -> list[ModelSummary]:
        return self._decoded(list[ModelSummary], "GET", "/v1/models")

    def model(self, version: int) -> ModelDetail:
        return self._decoded(ModelDetail, "GET", f"/v1/models/{version}")

    def quality(self, version: int, *, bucket: str | None = None, every: int | None = None,
                limit: int | None = None) -> QualityReport:
        """The version's quality over time, oldest bucket first: per `bucket` of event time ("1h", "1d"...) or
        `every` N predictions (one of them; neither: the server's default), newest `limit` buckets."""
        params = {name: value for name, value in (("bucket", bucket), ("every", every), ("limit", limit))
                  if value is not None}
        return self._decoded(QualityReport, "GET", f"/v1/models/{version}/quality", params=params)

    def transaction(self, transaction_id: str) -> TransactionView:
        return self._decoded(TransactionView, "GET", f"/v1/transactions/{transaction_id}")

    def stats(self) -> Stats:
        return self._decoded(Stats, "GET", "/v1/stats")

    # -- the two primitives ---------------------------------------------------------------------------------
    def _post_body(self, path: str, body: Any) -> httpx.Response:
        if self.encoding == "msgpack":
            return self.http.post(path, content=msgspec.msgpack.encode(body),
                                  headers={"Content-Type": "application/msgpack"})
        return self.http.post(path, json=body)

    def post(self, path: str, body: Any) -> list[IngestReceipt]:
        """POST an ingest body, retrying what is safe to retry (ingest is idempotent); the receipts."""
        for attempt in range(5):
            try:
                response = self._post_body(path, body)
            except httpx.TransportError as exc:
                if attempt == 4:
                    raise ClientError(f"cannot reach {self.url}: {exc}") from exc
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code in (200, 202):
                result = msgspec.json.decode(response.content, type=list[IngestReceipt] | IngestReceipt)
                return result if isinstance(result, list) else [result]
            if response.status_code in (429, 503) and attempt < 4:
                time.sleep(float(response.headers.get("Retry-After", 0.5)))
                continue
            _raise_for(response)
        raise ClientError(f"POST {path} kept failing")

    def get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params=params)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._response(method, path, **kwargs).json()

    def _decoded(self, into: type[T], method: str, path: str, **kwargs: Any) -> T:
        return msgspec.json.decode(self._response(method, path, **kwargs).content, type=into)

    def _response(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code >= 300:
            _raise_for(response)
        return response


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


def _query(filters: dict[str, QueryValue]) -> dict[str, str | int | float]:
    """Query parameters as the API spells them: booleans as true/false, None left out."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in filters.items() if v is not None}


class Labeller(Protocol):
    """Who posts the labels while `stream` sends, in its own way (the demo's card business: `fraudlog demo`)."""

    def __call__(self, batch: Sequence[Row], sent: int) -> int:
        """`batch` was just posted, `sent` rows so far: post what is due now; how many labels and answers it posted."""
        ...


def stream(client: FraudlogClient, rows: Iterable[Row], *, batch_size: int = 500, rate: float | None = None,
           label_delay_seconds: float | None = None, label_delay_events: int | None = None,
           restamp: bool = False, progress: Callable[[int], None] | None = None,
           labeller: Labeller | None = None) -> StreamReport:
    """Post `rows` in batches (at most `rate` per second when given); post each label once it is due:
    `label_delay_events` transactions later, or `label_delay_seconds` later; all remaining at the end.
    A `labeller` instead decides and posts the labels itself after each batch, and what is left at the end.

    With `restamp`, each transaction's event_time becomes the moment it is sent, for replaying a file
    whose own times are arbitrary, so event-to-prediction latency means what it says."""
    report = StreamReport()
    pending: collections.deque[_PendingLabel] = collections.deque()
    started = time.monotonic()
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            _send(client, batch, report, pending, started, progress, restamp)
            _pace(report.sent, rate, started)
            if labeller is None:
                _post_due_labels(client, pending, report, label_delay_seconds, label_delay_events, started)
            else:
                report.labels += labeller(batch, report.sent)
            batch = []
    if batch:
        _send(client, batch, report, pending, started, progress, restamp)
        if labeller is not None:
            report.labels += labeller(batch, report.sent)
    if labeller is None:
        _post_due_labels(client, pending, report, 0.0, None, started, everything=True)
    report.seconds = time.monotonic() - started
    return report


def _send(client: FraudlogClient, batch: list[Row], report: StreamReport,
          pending: collections.deque[_PendingLabel], started: float,
          progress: Callable[[int], None] | None, restamp: bool) -> None:
    if restamp:
        sent_at = format_time(datetime.now(UTC))
        batch = [({**body, "event_time": sent_at}, is_fraud) for body, is_fraud in batch]
    receipts = client.post("/v1/transactions", [body for body, _ in batch])
    report.sent += len(batch)
    report.accepted += sum(r.status == "accepted" for r in receipts)
    report.duplicates += sum(r.status == "duplicate" for r in receipts)
    now = time.monotonic() - started
    for body, is_fraud in batch:
        label: LabelBody = {"transaction_id": body["transaction_id"], "is_fraud": is_fraud}
        pending.append(_PendingLabel(now, report.sent, label))
    if progress:
        progress(len(batch))


def _pace(sent: int, rate: float | None, started: float) -> None:
    if rate:
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


def _post_due_labels(client: FraudlogClient, pending: collections.deque[_PendingLabel],
                     report: StreamReport, delay_seconds: float | None, delay_events: int | None, started: float,
                     everything: bool = False) -> None:
    now = time.monotonic() - started
    due: list[LabelBody] = []
    while pending and (everything or _is_due(pending[0], now, report.sent, delay_seconds, delay_events)):
        due.append(pending.popleft().label)
    for start in range(0, len(due), 5_000):
        client.post("/v1/labels", due[start : start + 5_000])
    report.labels += len(due)


def _is_due(item: _PendingLabel, now: float, sent: int, delay_seconds: float | None,
            delay_events: int | None) -> bool:
    queued_at, sent_then, _ = item
    if delay_events is not None:
        return sent - sent_then >= delay_events
    return delay_seconds is not None and now - queued_at >= delay_seconds
