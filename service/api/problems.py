"""RFC 9457 problem details: every error the API returns, in one shape.

A problem names every bad field in `errors` as JSON Pointers into the request body, so a client fixing a
10,000-item batch sees all of its mistakes at once.

Each kind of problem is a `ProblemKind` declared once below, with its own `type` URI
(`https://fraudlog.dev/problems/<name>`), status and title: a client branches on `type`, never on the wording
of `title` or `detail`. The title belongs to the kind (RFC 9457: it does not change from occurrence to
occurrence); what is particular to one occurrence goes in `detail` and `errors`. An error no kind describes
(a route that does not exist, a method it does not allow) is `about:blank`, whose title is the status phrase
and nothing else, as the RFC requires. A new kind is one `problem_kind(...)` line and a row in docs/api.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypedDict

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from fraudlog.domain.validation import FieldError, InvalidBody
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.store.errors import StoreUnavailable

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://fraudlog.dev/problems/"
BLANK = "about:blank"
log = logging.getLogger("fraudlog.api")


class FieldErrorDocument(TypedDict):
    pointer: str
    detail: str


class _ProblemFields(TypedDict):
    type: str
    title: str
    status: int
    instance: str


class ProblemDocument(_ProblemFields, total=False):
    """The body of every error answer, as the OpenAPI schema documents it (`detail`, `errors`: when known)."""

    detail: str
    errors: list[FieldErrorDocument]


@dataclass(frozen=True)
class ProblemKind:
    """One kind of problem: its `type` URI is `PROBLEM_TYPE_BASE + name`; `meaning` is what docs/api.md says."""

    name: str
    status: int
    title: str
    meaning: str

    @property
    def type(self) -> str:
        return PROBLEM_TYPE_BASE + self.name


PROBLEM_KINDS: dict[str, ProblemKind] = {}


def problem_kind(name: str, status: int, title: str, meaning: str) -> ProblemKind:
    """Declare a kind (once: a name names one kind)."""
    if name in PROBLEM_KINDS:
        raise ValueError(f"problem kind {name!r} is declared twice")
    kind = PROBLEM_KINDS[name] = ProblemKind(name, status, title, meaning)
    return kind


MALFORMED_JSON = problem_kind("malformed-json", 400, "The request body is not valid JSON",
                              "the body does not parse as JSON; `errors` points at where parsing stopped")
INVALID_PARAMETER = problem_kind("invalid-parameter", 400, "A path or query parameter is malformed",
                                 "a path or query parameter has the wrong type or range; `errors` names it")
AUTHENTICATION_REQUIRED = problem_kind("authentication-required", 401, "Authentication required",
                                       "no `Authorization: Bearer <key>` header")
INVALID_API_KEY = problem_kind("invalid-api-key", 401, "Invalid API key", "the key is not configured")
FORBIDDEN = problem_kind("forbidden", 403, "The key's role does not allow this",
                         "the key is valid, its role does not grant the endpoint")
UNKNOWN_TRANSACTION = problem_kind("unknown-transaction", 404, "Unknown transaction",
                                   "no transaction with that id in the log")
UNKNOWN_ALERT = problem_kind("unknown-alert", 404, "Unknown alert", "no alert has this id")
UNKNOWN_SUPPRESSION = problem_kind("unknown-suppression", 404, "Unknown suppression",
                                   "the card has no suppression with this id")
ALERT_NOT_DELIVERED = problem_kind("alert-not-delivered", 409, "The alert was never delivered",
                                   "a customer's answer to an alert that has not reached the customer")
UNKNOWN_MODEL_VERSION = problem_kind("unknown-model-version", 404, "Unknown model version",
                                     "no model version with that number (never replaced by another)")
TRANSACTION_CONFLICT = problem_kind("transaction-conflict", 409, "Conflict with a recorded transaction",
                                    "a `transaction_id` was recorded before with a different body; nothing stored")
NO_CHAMPION = problem_kind("no-champion", 409, "No champion", "no version has been promoted yet")
ARTIFACT_REJECTED = problem_kind("artifact-rejected", 409, "The version's artifact does not verify",
                                 "the artifact's SHA-256 or HMAC does not match its lineage; it is never loaded")
VERSION_UNSERVABLE = problem_kind("version-unservable", 503, "The model version cannot be served",
                                  "its artifact does not verify (SHA-256 or HMAC), so it is never loaded; an operator "
                                  "must promote a version that verifies (`/ready` names it too)")
UNSUPPORTED_MEDIA_TYPE = problem_kind("unsupported-media-type", 415, "The request body is not declared JSON",
                                      "a body endpoint was called without `Content-Type: application/json`")
BODY_TOO_LARGE = problem_kind("body-too-large", 413, "The request body is too large",
                              "the body exceeds `FRAUDLOG_MAX_BODY_BYTES`")
INVALID_BODY = problem_kind("invalid-body", 422, "The request body is invalid",
                            "fields break the schema or the limits; `errors` names each one as a JSON Pointer")
INVALID_QUERY = problem_kind("invalid-query", 422, "Invalid query parameter",
                             "a query parameter is well-typed but not acceptable (a time, a cursor); `errors` "
                             "names it")
INVALID_CURSOR = problem_kind("invalid-cursor", 400, "Invalid feed cursor",
                              "`after` or `Last-Event-ID` is not a cursor of the prediction feed (`P` or `P:V`)")
TOO_MANY_STREAMS = problem_kind("too-many-streams", 429, "Too many streams for this key",
                                "the key holds `FRAUDLOG_STREAMS_PER_KEY` streams on this API process; retry "
                                "after `Retry-After` seconds")
RATE_LIMITED = problem_kind("rate-limited", 429, "Too many requests",
                            "over the key's rate limit in this API process; retry after `Retry-After` seconds")
INTERNAL_ERROR = problem_kind("internal-error", 500, "Internal server error",
                              "a bug: the log line with the same request id has the traceback")
DATABASE_UNAVAILABLE = problem_kind("database-unavailable", 503, "The database is unavailable",
                                    "nothing was stored; retry after `Retry-After` seconds")
# Problems Litestar raises itself, by status, when one of ours describes them.
_FRAMEWORK_KINDS = {400: INVALID_PARAMETER, 413: BODY_TOO_LARGE}

PROBLEM_DESCRIPTIONS = {
    400: "The body is not JSON, or a path or query parameter is malformed",
    401: "No API key, or one that is not configured",
    403: "The key's role does not allow this",
    404: "Not found",
    409: "Conflict with what is recorded",
    413: "The body is larger than the configured limit",
    415: "The body is not declared JSON (Content-Type: application/json)",
    422: "Invalid fields; `errors` names each one as a JSON Pointer",
    429: "Over the key's rate limit; retry after Retry-After seconds",
    503: "The database is unavailable (retry after Retry-After seconds), or the model version's artifact is refused",
}
AUTH_PROBLEMS = (401, 403, 429)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of the problem answers a handler can give, for its `responses=`."""
    return {status: ResponseSpec(ProblemDocument, description=_described(status), media_type=PROBLEM_JSON,
                                 generate_examples=False)
            for status in statuses}


def _described(status: int) -> str:
    """The status's description, and the `type` of each kind it may carry."""
    types = ", ".join(f"`{kind.type}`" for kind in PROBLEM_KINDS.values() if kind.status == status)
    return f"{PROBLEM_DESCRIPTIONS[status]} (type: {types})" if types else PROBLEM_DESCRIPTIONS[status]


class Problem(Exception):
    """Raise from a handler to answer with a problem document of `kind`; `kind=None` with a `status` is an
    `about:blank` problem (its title is the status phrase)."""

    def __init__(self, kind: ProblemKind | None, detail: str | None = None, *, status: int | None = None,
                 errors: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.status = kind.status if kind is not None else int(status or 500)
        self.title = kind.title if kind is not None else status_phrase(self.status)
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return self.kind.type if self.kind is not None else BLANK


def status_phrase(status: int) -> str:
    """The plain reason phrase of a status code (`Not Found`): the only title `about:blank` may carry."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(request: Request[Any, Any, Any], problem: Problem) -> Response[ProblemDocument]:
    body: ProblemDocument = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "instance": request.url.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in problem.errors]
    return Response(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def _on_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDocument]:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


def _on_invalid_body(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDocument]:
    assert isinstance(exc, InvalidBody)
    malformed = any(e.detail.startswith("malformed JSON") for e in exc.errors)
    return problem_response(request, Problem(MALFORMED_JSON if malformed else INVALID_BODY, str(exc),
                                             errors=exc.errors))


def _on_http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDocument]:
    assert isinstance(exc, HTTPException)
    errors = []
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors = [FieldError(f"/{e.get('key', '')}", str(e.get("message", ""))) for e in exc.extra
                  if isinstance(e, dict)]
    kind = _FRAMEWORK_KINDS.get(exc.status_code)
    detail = exc.detail if exc.detail and exc.detail != status_phrase(exc.status_code) else None
    return problem_response(request, Problem(kind, detail, status=exc.status_code, errors=errors,
                                             headers=exc.headers or {}))


def _on_store_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDocument]:
    log.warning("database unavailable: %s", exc)
    return problem_response(request, Problem(DATABASE_UNAVAILABLE, "retry later", headers={"Retry-After": "1"}))


def _on_artifact_rejected(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDocument]:
    # Not retryable and not the client's fault: the stored artifact does not match its signature. No
    # Retry-After, since waiting will not fix it; an operator must promote a version that verifies.
    assert isinstance(exc, ArtifactRejected)
    log.error("%s", exc, extra={"model_version": exc.version, "failed_check": exc.check})
    return problem_response(request, Problem(VERSION_UNSERVABLE, str(exc)))


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDocument]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, Problem(INTERNAL_ERROR))


EXCEPTION_HANDLERS = {
    Problem: _on_problem,
    InvalidBody: _on_invalid_body,
    HTTPException: _on_http_exception,
    StoreUnavailable: _on_store_unavailable,
    ArtifactRejected: _on_artifact_rejected,
    Exception: _on_unexpected,
}
