"""OpenAPI for bodies we decode ourselves.

The ingest handlers read the raw body so they can name every bad field (see domain/validation.py); Litestar
therefore cannot infer their request schema. We publish msgspec's own JSON Schema for the Structs instead,
so the documentation is generated from the very types that validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, PathItem, RequestBody, Schema

from fraudlog.api.schemas import AlertPayload
from fraudlog.domain.events import ID_PATTERN


@dataclass
class RawSchema(Schema):
    """A schema given as a ready JSON Schema document."""

    raw: dict[str, Any] = field(default_factory=dict)

    def to_schema(self) -> dict[str, Any]:
        return self.raw


def one_or_many(struct: type[msgspec.Struct], max_items: int) -> RawSchema:
    """An object or a non-empty array of them, with msgspec's schema inlined.

    Litestar regenerates `components/schemas` from the handlers' signatures, so references to schemas it
    did not generate would dangle; these Structs have no recursion, so inlining is exact.
    """
    item = inline_schema(struct)
    return RawSchema(raw={"oneOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": max_items}]})


def inline_schema(struct: Any) -> dict[str, Any]:
    """msgspec's JSON Schema for `struct` with every reference replaced by its definition."""
    schema = msgspec.json.schema(struct)
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[1]])
            return {key: json_schema_pattern(value) if key == "pattern" and isinstance(value, str)
                    else resolve(value)
                    for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return dict(resolve(schema))


def json_schema_pattern(python_pattern: str) -> str:
    """A validating pattern as JSON Schema's regex dialect (ECMA 262) spells it.

    Validation anchors with Python's `\\A` and `\\Z` (its `$` also matches before a final newline); in ECMA 262
    those are a literal "A" and "Z", while `^` and `$` without the multiline flag mean the whole string.
    """
    pattern = python_pattern
    if pattern.startswith("\\A"):
        pattern = "^" + pattern[2:]
    if pattern.endswith("\\Z"):
        pattern = pattern[:-2] + "$"
    return pattern


# How a path or query parameter holding an id is documented (validated with `pattern=ID_PATTERN`).
ID_SCHEMA: dict[str, Any] = {"pattern": json_schema_pattern(ID_PATTERN)}


def operation_with_body(schema: RawSchema, media_types: tuple[str, ...] = ("application/json",)) -> type[Operation]:
    """An Operation class that documents `schema` as the request body, in each of `media_types` (the same
    schema: MessagePack decodes into the same Structs as JSON)."""

    @dataclass
    class _Operation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={media_type: OpenAPIMediaType(schema=schema) for media_type in media_types}, required=True)

    return _Operation


def alert_webhook() -> PathItem:
    """The webhook an alert sink POSTs to: its body is `AlertPayload`, with the alert's reasons."""
    body = RequestBody(content={"application/json": OpenAPIMediaType(schema=RawSchema(raw=inline_schema(
        AlertPayload)))}, required=True, description="one alert, signed with the webhook-id, -timestamp and "
                                                       "-signature headers (docs/alerts.md)")
    return PathItem(post=Operation(operation_id="alertWebhook", summary="An alert, with its reasons",
                                   request_body=body, responses={"2XX": OpenAPIResponse(
                                       description="delivered: any 2xx marks the alert sent")}))
