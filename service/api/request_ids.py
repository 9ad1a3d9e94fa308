"""Request ids: every request has one, every log line written while answering it carries it, the answer
echoes it.

A client (or a proxy in front of the API) may send `X-Request-ID`; a well-formed one is kept, so one id
follows a request through several systems. Anything else is replaced by a fresh one rather than refused:
an id helps operators, it must never fail a request, and a log must never carry a client's arbitrary bytes.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fraudlog.logs import request_id_scope

REQUEST_ID_HEADER = "x-request-id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: the id in the logging context for the request's duration, and in the answer."""

    async def with_request_id(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request_id = accepted_request_id(_header(scope, REQUEST_ID_HEADER))

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_id_scope(request_id):
            await app(scope, receive, echo)

    return with_request_id


async def echo_request_id_outside_routes(message: Message, scope: Scope) -> None:
    """Litestar `before_send` hook: an answer no route gave (a path that matches none, so no middleware ran)
    carries an id too."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        if REQUEST_ID_HEADER not in headers:
            headers[REQUEST_ID_HEADER] = accepted_request_id(_header(scope, REQUEST_ID_HEADER))


def accepted_request_id(given: str | None) -> str:
    """The client's id when it is 1-128 characters of `[A-Za-z0-9._:-]`, else a new one (32 hex digits)."""
    if given is not None and _WELL_FORMED.fullmatch(given):
        return given
    return _new_request_id()


# A new id is 80 random bits drawn once per process, then a counter: as unique as a UUID4 in practice, without
# a call to the kernel's random source per request (uuid4 was 7 % of the API's time under single POSTs).
_prefix: tuple[int, str] = (-1, "")
_counter = itertools.count()


def _new_request_id() -> str:
    global _prefix
    pid, prefix = _prefix
    if pid != os.getpid():  # a forked child draws its own
        _prefix = pid, prefix = os.getpid(), secrets.token_hex(10)
    return f"{prefix}{next(_counter) & 0xFFFFFFFFFFFF:012x}"


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None
