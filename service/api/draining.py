"""Read what a client is still sending before answering early, so the answer reaches it.

An answer that comes before the body was read (413 on a declared length over the limit, 401, 415) used to
be followed by the server closing the connection with the body's tail unread. The kernel then resets the
connection, and a client still writing (Python's urllib, which sends `Connection: close` and the whole body
before it reads) sees "connection reset" instead of the problem document. So before the answer starts, the
unread body is read and discarded, up to a bound: past it, a client sending without end is cut off as before.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send


class DrainUnreadBody:
    """ASGI middleware: before an answer starts, drain up to `limit` bytes of a request body nobody read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = False

        async def receive_noting_the_end() -> ReceiveMessage:
            nonlocal body_read
            message = await receive()
            body_read = body_read or _ends_body(message)
            return message

        async def send_after_draining(message: Message) -> None:
            nonlocal body_read
            if message["type"] == "http.response.start" and not body_read:
                body_read = await _drain(receive, self.limit)
            await send(message)

        await self.app(scope, receive_noting_the_end, send_after_draining)


def _ends_body(message: ReceiveMessage) -> bool:
    return message["type"] == "http.disconnect" or not message.get("more_body", False)


async def _drain(receive: Receive, limit: int) -> bool:
    """Read and discard body chunks until the body ends (True) or more than `limit` bytes went by (False)."""
    drained = 0
    while drained <= limit:
        message = await receive()
        if _ends_body(message):
            return True
        body = message.get("body", b"")
        drained += len(body) if isinstance(body, bytes) else 0
    return False
