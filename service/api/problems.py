"""RFC 9457 problem details: every error the API returns, in one shape.

A problem names every bad field in `errors` as JSON Pointers into the request body, so a client fixing a
10,000-item batch sees all of its mistakes at once.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from service.domain.validation import FieldError, InvalidBody
from service.store.errors import StoreUnavailable

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("fraudlog.api")


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


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, Problem(500, "Internal server error"))


EXCEPTION_HANDLERS = {
    Problem: _on_problem,
    InvalidBody: _on_invalid_body,
    HTTPException: _on_http_exception,
    StoreUnavailable: _on_store_unavailable,
    Exception: _on_unexpected,
}
