"""RFC 9457 problem details: every error the API returns, in one shape.

A problem names every bad field in `errors` as JSON Pointers into the request body, so a client fixing a
10,000-item batch sees all of its mistakes at once.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from service.domain.validation import FieldError, InvalidBody
from service.ml.artifact import ArtifactRejected
from service.store.errors import StoreUnavailable

PROBLEM_JSON = "application/problem+json"
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
    return {status: ResponseSpec(ProblemDocument, description=PROBLEM_DESCRIPTIONS[status], media_type=PROBLEM_JSON,
                                 generate_examples=False)
            for status in statuses}


class Problem(Exception):
    """Raise from a handler to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 errors: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(request: Request[Any, Any, Any], problem: Problem) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "instance": request.url.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in problem.errors]
    return Response(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def _on_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


def _on_invalid_body(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, InvalidBody)
    malformed = any(e.detail.startswith("malformed JSON") for e in exc.errors)
    status = 400 if malformed else 422
    title = "The request body is not valid JSON" if malformed else exc.title
    return problem_response(request, Problem(status, title, str(exc), exc.errors))


def _on_http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, HTTPException)
    errors = []
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors = [FieldError(f"/{e.get('key', '')}", str(e.get("message", ""))) for e in exc.extra
                  if isinstance(e, dict)]
    title = exc.detail or "Error"
    return problem_response(request, Problem(exc.status_code, title, errors=errors, headers=exc.headers or {}))


def _on_store_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("database unavailable: %s", exc)
    return problem_response(request, Problem(503, "The database is unavailable", "retry later",
                                             headers={"Retry-After": "1"}))


def _on_artifact_rejected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Not retryable and not the client's fault: the stored artifact does not match its signature. No
    # Retry-After, since waiting will not fix it; an operator must promote a version that verifies.
    assert isinstance(exc, ArtifactRejected)
    log.error("%s", exc, extra={"model_version": exc.version, "failed_check": exc.check})
    return problem_response(request, Problem(503, "The model version's artifact is refused", str(exc)))


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, Problem(500, "Internal server error"))


EXCEPTION_HANDLERS = {
    Problem: _on_problem,
    InvalidBody: _on_invalid_body,
    HTTPException: _on_http_exception,
    StoreUnavailable: _on_store_unavailable,
    ArtifactRejected: _on_artifact_rejected,
    Exception: _on_unexpected,
}
