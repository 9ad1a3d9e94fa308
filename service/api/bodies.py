"""Reading a request body: the media type is checked before a byte is read, a UTF-8 BOM is dropped.

Ingest (`/v1/transactions`, `/v1/labels`) also takes MessagePack (`read_ingest_body`): fewer bytes on the
wire, decoded by msgspec into the same Structs as JSON, so limits, errors and digests are the same.

Every handler that takes a body reads it here, so they all answer alike: a body that is not declared JSON is
415 (a form post or a text/plain body is never guessed at), and a body larger than
FRAUDLOG_MAX_BODY_BYTES is 413 (Litestar's `request_max_body_size` enforces that while it reads).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from fraudlog.api.problems import UNSUPPORTED_MEDIA_TYPE, Problem
from fraudlog.domain.validation import BodyFormat

UTF8_BOM = b"\xef\xbb\xbf"
MSGPACK = "application/msgpack"
# The name MessagePack went by before it was registered; many clients still send it.
MSGPACK_TYPES = (MSGPACK, "application/x-msgpack")
INGEST_MEDIA_TYPES = ("application/json", MSGPACK)  # what the OpenAPI document lists for an ingest body


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or any `application/<something>+json`, whatever its parameters (`charset=utf-8`)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/")
                                                 and media_type.endswith("+json"))


def is_msgpack_media_type(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() in MSGPACK_TYPES


async def read_ingest_body(request: Request[Any, Any, Any]) -> tuple[bytes, BodyFormat]:
    """The body of an ingest request and its format: JSON (as `read_json_body` reads it) or MessagePack."""
    content_type = request.headers.get("content-type")
    if is_msgpack_media_type(content_type):
        return await request.body(), "msgpack"
    if not is_json_media_type(content_type):
        raise Problem(UNSUPPORTED_MEDIA_TYPE,
                      f"the body must be JSON (Content-Type: application/json) or MessagePack (Content-Type: "
                      f"{MSGPACK}), got {content_type or 'none'}",
                      headers={"Accept-Post": f"application/json, {MSGPACK}"})
    return (await request.body()).removeprefix(UTF8_BOM), "json"


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
