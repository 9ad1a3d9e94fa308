"""The API's part of tracing: a `SERVER` span per request (see `fraudlog.tracing`)."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fraudlog.logs import current_request_id
from fraudlog.tracing import server_span


def tracing_middleware(app: ASGIApp) -> ASGIApp:
    """Litestar middleware, registered only when tracing is on; inside the request-id middleware, so the
    span records the request's id."""

    async def traced(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        route = str(scope.get("path_template") or scope.get("path", ""))
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", ())}
        attributes = {"http.request.method": scope.get("method", ""), "http.route": route,
                      "fraudlog.request_id": current_request_id() or ""}
        with server_span(f"{scope.get('method', '')} {route}", headers, attributes) as span:

            async def record_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", int(message["status"]))
                await send(message)

            await app(scope, receive, record_status)

    return traced
