"""Reading a JSON request body: the media type is checked before a byte is read, a UTF-8 BOM is dropped.

Every handler that takes a body reads it here, so they all answer alike: a body that is not declared JSON is
415 (a form post or a text/plain body is never guessed at), and a body larger than
FRAUDLOG_MAX_BODY_BYTES is 413 (Litestar's `request_max_body_size` enforces that while it reads).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from service.api.problems import UNSUPPORTED_MEDIA_TYPE, Problem

UTF8_BOM = b"\xef\xbb\xbf"


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or any `application/<something>+json`, whatever its parameters (`charset=utf-8`)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/")
                                                 and media_type.endswith("+json"))


async def read_json_body(request: Request[Any, Any, Any]) -> bytes:
    """The body of a request that declares JSON, without a leading UTF-8 byte order mark.

    RFC 8259 lets a parser ignore a BOM and forbids sending one; Windows tools still do, and refusing a body
    that is otherwise valid would help no one. Bodies are decoded from these bytes, never re-encoded, so
    dropping the mark changes nothing that is stored.
    """
    content_type = request.headers.get("content-type")
    if not is_json_media_type(content_type):
        raise Problem(UNSUPPORTED_MEDIA_TYPE,
                      f"the body must be JSON, sent with Content-Type: application/json (got {content_type or 'none'})",
                      headers={"Accept-Post": "application/json"})
    return (await request.body()).removeprefix(UTF8_BOM)
