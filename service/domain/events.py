"""The event vocabulary: what clients send (msgspec Structs) and what the log stores. Pure: no I/O, no framework.

The Structs are the contract: msgspec enforces every constraint while decoding, and
`service.domain.validation` reuses the same annotations to name every bad field when decoding fails.
The log knows four event types (`EVENT_TYPES`); a `NewEvent` is one of them in its canonical, digested form,
ready for the store to append. The store names the types in its schema but does not define them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

MAX_VERSION = 2**31 - 1  # model_versions.version is a 32-bit integer
MAX_COMPARED = 16  # versions one on-demand comparison may name
# Python's `$` also matches before a final newline, so `re.search("^...$", "tx-1\n")` succeeds: every pattern
# that validates is anchored with `\A` and `\Z` (the whole string). The OpenAPI document spells them `^` and
# `$`, which is what they mean in JSON Schema's regex dialect (`service.api.openapi.json_schema_pattern`).
ID_PATTERN = r"\A[A-Za-z0-9._:-]{1,128}\Z"
# Limits with documented defaults, configurable for deployments whose clients send more: the schema below
# documents the defaults, and `service.domain.validation.Limits` enforces the configured values.
MAX_ATTRIBUTES = 256
MAX_ATTRIBUTE_NAME = 64

# The types of event the log holds. Transactions and labels come from clients; promotions and retirements
# are control events that give model versions their roles (see `service.domain.assignment`).
EVENT_TRANSACTION = "transaction"
EVENT_LABEL = "label"
EVENT_PROMOTION = "promotion"
EVENT_RETIREMENT = "retirement"
EVENT_DRIFT_DETECTION = "drift_detection"  # a detector fired (service.monitoring.drift_job); see DriftDetected
EVENT_TYPES = (EVENT_TRANSACTION, EVENT_LABEL, EVENT_PROMOTION, EVENT_RETIREMENT, EVENT_DRIFT_DETECTION)

Identifier = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="1-128 characters of [A-Za-z0-9._:-]")]
AwareDateTime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with an offset")]
# Printable names only: a NUL, for one, cannot be stored in Postgres JSONB. Checked after decoding, once per
# distinct name (`service.domain.validation.Limits.attribute_errors`), not by a pattern in the type: msgspec
# would run it for every attribute of every transaction, which made decoding a batch five times slower.
ATTRIBUTE_NAME_PATTERN = r"\A[^\x00-\x1f\x7f]+\Z"
AttributeName = Annotated[str, msgspec.Meta(min_length=1, extra_json_schema={"maxLength": MAX_ATTRIBUTE_NAME,
                                                                             "pattern": ATTRIBUTE_NAME_PATTERN})]
Amount = Annotated[float, msgspec.Meta(ge=0, description="finite, >= 0")]
# A categorical attribute value (a country, a merchant id, a channel): printable text only. C0 and C1 control
# characters are refused (a NUL cannot be stored in Postgres JSONB, the others hide in logs and dashboards),
# and so are lone surrogates, which no UTF-8 encoder, hence no database or client, can carry.
MAX_ATTRIBUTE_TEXT = 128
AttributeText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ATTRIBUTE_TEXT,
                                            pattern=r"\A[^\x00-\x1f\x7f-\x9f\ud800-\udfff]+\Z",
                                            description="printable text, 1-128 characters")]
AttributeValue = float | AttributeText


class TransactionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A card payment as a client posts it."""

    transaction_id: Identifier
    event_time: AwareDateTime
    amount: Amount
    card_id: Identifier | None = None
    attributes: Annotated[dict[AttributeName, AttributeValue], msgspec.Meta(extra_json_schema={"maxProperties":
                                                                                   MAX_ATTRIBUTES})] = {}


class LabelIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The truth about a transaction, arriving hours later."""

    transaction_id: Identifier
    is_fraud: bool
    labeled_at: AwareDateTime | None = None


class PredictIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Score a transaction on demand, with the champion, a pinned version, or several versions to compare
    (`model_versions`: a list, or "live" for the champion and its challengers); nothing is stored."""

    transaction: TransactionIn
    model_version: Annotated[int, msgspec.Meta(ge=1, le=MAX_VERSION)] | None = None
    model_versions: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=MAX_VERSION)]],
                              msgspec.Meta(min_length=1, max_length=MAX_COMPARED)] | Literal["live"] | None = None


class Receipt(msgspec.Struct):
    """The answer to one appended event: where it is in the log, and whether it was new."""

    transaction_id: str
    position: int
    status: str  # "accepted" | "duplicate" | "correction"


@dataclass(frozen=True)
class NewEvent:
    """An event ready to append: its type, canonical payload and that payload's digest (see `digest`).

    The digest is how the log tells a retry (same id, same digest: a duplicate) from a reuse of an id with
    another body (a conflict); `transaction_id` and `card_id` are copied out of the payload for indexing.
    `payload_json` is the payload's canonical JSON (`canonical_json`), the text the log stores: the bytes the
    digest was computed over, so ingest encodes each payload once.
    """

    event_type: str
    transaction_id: str | None
    card_id: str | None
    event_time: datetime | None
    digest: str
    payload: dict[str, Any]
    payload_json: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.payload_json:
            object.__setattr__(self, "payload_json", canonical_json(self.payload).decode())


def canonical_transaction(tx: TransactionIn) -> dict[str, Any]:
    """The stored form: UTC time, sorted attributes. Two posts are identical when these are equal."""
    return {
        "transaction_id": tx.transaction_id,
        "card_id": tx.card_id,
        "event_time": format_time(tx.event_time),
        "amount": _stored_number(tx.amount),
        # `canonical_attribute` inlined: this runs for every attribute of every ingested transaction.
        "attributes": {name: value if isinstance(value, str) else value + 0.0
                       for name, value in sorted(tx.attributes.items())},
    }


def canonical_attribute(value: float | str) -> float | str:
    """Numbers are stored as floats (as they always were, so numeric-only digests never change); text as is."""
    return value if isinstance(value, str) else _stored_number(value)


def _stored_number(value: float) -> float:
    """The float itself, except -0.0, which is stored as 0.0: Postgres' JSONB has no negative zero, so the
    log would hand back another float than it was given, and the sign of a zero means nothing here."""
    return float(value) + 0.0  # IEEE 754: -0.0 + 0.0 is 0.0; every other float is unchanged


def canonical_label(label: LabelIn, received_at: datetime) -> dict[str, Any]:
    return {
        "transaction_id": label.transaction_id,
        "is_fraud": label.is_fraud,
        "labeled_at": format_time(label.labeled_at or received_at),
    }


def transaction_event(tx: TransactionIn) -> NewEvent:
    """The log event for a validated transaction: its canonical form and that form's digest."""
    canonical = canonical_transaction(tx)
    encoded = canonical_json(canonical)
    return NewEvent(EVENT_TRANSACTION, tx.transaction_id, tx.card_id, tx.event_time,
                    hashlib.sha256(encoded).hexdigest(), canonical, encoded.decode())


def label_event(label: LabelIn, received_at: datetime) -> NewEvent:
    """The log event for a label; without `labeled_at` it is labelled when it was received."""
    canonical = canonical_label(label, received_at)
    return NewEvent(EVENT_LABEL, label.transaction_id, None, label.labeled_at or received_at, digest(canonical),
                    canonical)


def digest(canonical: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON bytes (`canonical_json`), the identity of a body."""
    return hashlib.sha256(canonical_json(canonical)).hexdigest()


def canonical_json(canonical: dict[str, Any]) -> bytes:
    """A canonical payload as JSON with sorted keys: one spelling per body."""
    return msgspec.json.encode(canonical, order="sorted")


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: one spelling per instant."""
    # isoformat, not strftime("%Y"): strftime does not zero-pad years before 1000.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return msgspec.convert(text, AwareDateTime).astimezone(UTC)


class DriftDetected(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The payload of a `drift_detection` event: a detector fired while watching a version (docs/drift.md).

    `id` is a function of (model_version, signal, position) alone, so every process that replays the same
    log to the same point finds the same detection and the log holds it once. `window` gives the log
    positions of the evidence; `action` is `retrain` (with `retrained_version`) or `none` (with `why`).
    """

    id: str
    position: int
    model_version: int
    signal: str
    detector: str
    parameters: dict[str, Any]
    window: list[int]
    statistic: float
    threshold: float
    details: dict[str, Any]
    action: str
    why: str
    retrained_version: int | None = None
