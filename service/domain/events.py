"""The event vocabulary: what clients send (msgspec Structs) and what the log stores. Pure: no I/O, no framework.

The Structs are the contract: msgspec enforces every constraint while decoding, and
`fraudlog.domain.validation` reuses the same annotations to name every bad field when decoding fails.
The log knows eight event types (`EVENT_TYPES`), one Struct each: `TransactionRecorded`, `LabelRecorded`,
`ModelPromoted`, `ModelRetired`, `DriftDetected`, `AlertOutcomeRecorded`, `SuppressionAdded` and
`SuppressionEnded`, each a payload exactly as the
log stores it. One mapper
turns them into the log's rows and back: `to_row(event, event_time)` gives the `NewEvent` the store appends
(canonical JSON and its digest), and `from_row(event_type, payload)` decodes a stored payload into its
Struct, refusing an unknown type (`UnknownEventType`). The store names the types in its schema but does not define them.

Adding an event type (a drift detection, an alert outcome, a suppression) is one Struct here, subclassing
`LogEvent` with its `event_type` (a `ClassVar`), plus its class in `EVENT_STRUCTS`; the events table's check
constraint lists the types, so it also takes an alembic migration that adds the name to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from fraudlog.domain.assignment import RETIRED
from fraudlog.domain.label_sources import LabelSource
from fraudlog.domain.records import Decision
from fraudlog_client.bodies import (  # what a client sends: defined once, in the client distribution
    LabelBody as LabelBody,
)
from fraudlog_client.bodies import (
    LabelledTransaction as LabelledTransaction,
)
from fraudlog_client.bodies import (
    TransactionBody as TransactionBody,
)
from fraudlog_client.bodies import (
    format_time as format_time,
)

MAX_VERSION = 2**31 - 1  # model_versions.version is a 32-bit integer
MAX_COMPARED = 16  # versions one on-demand comparison may name
# Python's `$` also matches before a final newline, so `re.search("^...$", "tx-1\n")` succeeds: every pattern
# that validates is anchored with `\A` and `\Z` (the whole string). The OpenAPI document spells them `^` and
# `$`, which is what they mean in JSON Schema's regex dialect (`fraudlog.api.openapi.json_schema_pattern`).
ID_PATTERN = r"\A[A-Za-z0-9._:-]{1,128}\Z"
# Limits with documented defaults, configurable for deployments whose clients send more: the schema below
# documents the defaults, and `fraudlog.domain.validation.Limits` enforces the configured values.
MAX_ATTRIBUTES = 256
MAX_ATTRIBUTE_NAME = 64

# The types of event the log holds. Transactions and labels come from clients; promotions and retirements
# are control events that give model versions their roles (see `fraudlog.domain.assignment`).
EVENT_TRANSACTION = "transaction"
EVENT_LABEL = "label"
EVENT_PROMOTION = "promotion"
EVENT_RETIREMENT = "retirement"
EVENT_DRIFT_DETECTION = "drift_detection"  # a detector fired (fraudlog.monitoring.drift_job); see DriftDetected
EVENT_ALERT_OUTCOME = "alert_outcome"  # a customer or an analyst answered an alert: a label too (docs/outcomes.md)
EVENT_SUPPRESSION = "suppression"  # a card's alerts held back until a time (docs/outcomes.md, "Suppression")
EVENT_SUPPRESSION_END = "suppression_end"  # a suppression ended before its time
EVENT_TYPES = (EVENT_TRANSACTION, EVENT_LABEL, EVENT_PROMOTION, EVENT_RETIREMENT, EVENT_DRIFT_DETECTION,
               EVENT_ALERT_OUTCOME, EVENT_SUPPRESSION, EVENT_SUPPRESSION_END)
SUPPRESSION_EVENT_TYPES = (EVENT_SUPPRESSION, EVENT_SUPPRESSION_END)
# The events that give a transaction a label: each payload holds `is_fraud`, `labeled_at` and `source`.
LABEL_EVENT_TYPES = (EVENT_LABEL, EVENT_ALERT_OUTCOME)

Identifier = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="1-128 characters of [A-Za-z0-9._:-]")]
AwareDateTime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with an offset")]
# What no attribute name or text value may hold (docs/api.md, "Text"): C0 and C1 control characters and DEL (a
# NUL cannot be stored in Postgres JSONB; the others hide in logs and dashboards); lone surrogates, which no
# UTF-8 encoder, hence no database or client, can carry; bidirectional marks, embeddings, overrides and
# isolates (U+202E shows "gro.knab" as "bank.org" on a dashboard); the line and paragraph separators, which
# break log lines; and the invisible U+200B, U+2060-U+2064 and U+FEFF, which make two values look alike. The
# zero-width joiners U+200C and U+200D are allowed: scripts and emoji sequences need them.
UNPRINTABLE = (r"\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064"
               r"\u2066-\u2069\ufeff")
# Checked after decoding, once per distinct name (`fraudlog.domain.validation.Limits.attribute_errors`), not by a
# pattern in the type: msgspec would run it for every attribute of every transaction, which made decoding a
# batch five times slower.
ATTRIBUTE_NAME_PATTERN = rf"\A[^{UNPRINTABLE}]+\Z"
AttributeName = Annotated[str, msgspec.Meta(min_length=1, extra_json_schema={"maxLength": MAX_ATTRIBUTE_NAME,
                                                                             "pattern": ATTRIBUTE_NAME_PATTERN})]
Amount = Annotated[float, msgspec.Meta(ge=0, description="finite, >= 0")]
# A categorical attribute value (a country, a merchant id, a channel): printable text only (`UNPRINTABLE`).
MAX_ATTRIBUTE_TEXT = 128
AttributeText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ATTRIBUTE_TEXT,
                                            pattern=rf"\A[^{UNPRINTABLE}]+\Z",
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
    labeled_at: AwareDateTime | None = None  # when the truth became known to the sender; default: on receipt
    source: LabelSource | None = None  # who knew it (docs/outcomes.md); absent: `api`


OutcomeName = Literal["confirmed_fraud", "not_fraud"]
MAX_NOTE = 2_000


class OutcomeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An answer to an alert: the customer's ("it was me": `not_fraud`) or an analyst's after review."""

    outcome: OutcomeName
    answered_by: Literal["customer", "analyst"]
    note: Annotated[str, msgspec.Meta(max_length=MAX_NOTE)] | None = None
    answered_at: AwareDateTime | None = None  # when the answer was given; default: on receipt


MAX_REASON = 500


class SuppressionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Hold back a card's customer alerts until an event time, for a reason a person gave."""

    until: AwareDateTime
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON)]


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


class LogEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as the log stores it: the fields are its payload; `event_type` names its type in the log."""

    event_type: ClassVar[str]


class TransactionRecorded(LogEvent, frozen=True, kw_only=True):
    """A transaction in its canonical form: UTC time spelt by `format_time`, sorted attributes, no -0.0.
    Two posts are the same transaction when these are equal."""

    event_type: ClassVar[str] = EVENT_TRANSACTION
    transaction_id: str
    card_id: str | None
    event_time: str  # `format_time`: the one spelling of the instant that the digest covers
    amount: float
    attributes: dict[str, float | str]  # open: whatever a client's transactions carry


class LabelRecorded(LogEvent, frozen=True, kw_only=True, omit_defaults=True):
    """The truth about a transaction, labelled at `labeled_at` (`format_time`) by `source`. A label posted
    without a source stores none (its bytes are those of every label stored before sources existed) and
    reads as `api` (`fraudlog.domain.label_sources.source_of`)."""

    event_type: ClassVar[str] = EVENT_LABEL
    transaction_id: str
    is_fraud: bool
    labeled_at: str
    source: str | None = None


class AlertOutcomeRecorded(LogEvent, frozen=True, kw_only=True, omit_defaults=True):
    """A customer's or an analyst's answer to an alert (docs/outcomes.md): the label of the alert's transaction,
    with `source` who answered (`customer` | `analyst`) and `actor` the API key's name that sent it.

    `is_fraud` follows from `outcome` (`confirmed_fraud` is fraud, `not_fraud` is not); it is stored so that
    every label-giving event holds the same three fields the label rule reads (`is_fraud`, `labeled_at`, `source`).
    """

    event_type: ClassVar[str] = EVENT_ALERT_OUTCOME
    alert_id: str
    transaction_id: str
    outcome: str
    is_fraud: bool
    source: str
    actor: str
    labeled_at: str
    note: str | None = None

class SuppressionAdded(LogEvent, frozen=True, kw_only=True):
    """A card's customer alerts held back for its transactions after this event whose event time is before
    `until` (`format_time`), for `reason`, by the API key named `actor` (docs/outcomes.md, "Suppression").
    `suppression_id` is a function of the other fields, so a retried request is the same suppression."""

    event_type: ClassVar[str] = EVENT_SUPPRESSION
    suppression_id: str
    card_id: str
    until: str
    reason: str
    actor: str


class SuppressionEnded(LogEvent, frozen=True, kw_only=True):
    """A suppression ended before its time: transactions after this event alert again."""

    event_type: ClassVar[str] = EVENT_SUPPRESSION_END
    suppression_id: str
    card_id: str
    actor: str


class ModelPromoted(LogEvent, frozen=True, kw_only=True, omit_defaults=True):
    """A version made champion or challenger, with the decision that made it (absent in older logs)."""

    event_type: ClassVar[str] = EVENT_PROMOTION
    model_version: int
    role: str
    decision: Decision | None = None


class ModelRetired(LogEvent, frozen=True, kw_only=True, omit_defaults=True):
    """A version retired: it scores nothing after this event."""

    event_type: ClassVar[str] = EVENT_RETIREMENT
    model_version: int
    role: str
    decision: Decision | None = None


class DriftDetected(LogEvent, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The payload of a `drift_detection` event: a detector fired while watching a version (docs/drift.md).

    `id` is a function of (model_version, signal, position) alone, so every process that replays the same
    log to the same point finds the same detection and the log holds it once. `window` gives the log
    positions of the evidence; `action` is `retrain` (with `retrained_version`) or `none` (with `why`).
    """

    event_type: ClassVar[str] = EVENT_DRIFT_DETECTION
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


# The registry of event types: the mapper decodes a stored payload with the Struct its type names here.
EVENT_STRUCTS: dict[str, type[LogEvent]] = {cls.event_type: cls for cls in (
    TransactionRecorded, LabelRecorded, ModelPromoted, ModelRetired, DriftDetected, AlertOutcomeRecorded,
    SuppressionAdded, SuppressionEnded)}


class UnknownEventType(ValueError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}; the log knows {sorted(EVENT_STRUCTS)}")
        self.event_type = event_type


@dataclass(frozen=True)
class NewEvent:
    """A log row ready to append (what `to_row` gives): its type, canonical payload and that payload's digest.

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


def to_row(event: LogEvent, event_time: datetime | None) -> NewEvent:
    """The log row of `event`, which happened at `event_time` (the log's time index: a transaction's
    `event_time`, a label's labelling, a role change's making); its payload is the event's fields."""
    encoded = msgspec.json.encode(event, order="sorted")
    return NewEvent(event.event_type, getattr(event, "transaction_id", None), getattr(event, "card_id", None),
                    event_time, hashlib.sha256(encoded).hexdigest(), msgspec.to_builtins(event), encoded.decode())


def from_row(event_type: str, payload: Mapping[str, Any] | str | bytes) -> LogEvent:
    """The event a stored row holds: its payload (decoded JSON, or its text) as the Struct of its type."""
    cls = EVENT_STRUCTS.get(event_type)
    if cls is None:
        raise UnknownEventType(event_type)
    if isinstance(payload, str | bytes):
        return msgspec.json.decode(payload, type=cls)
    return msgspec.convert(payload, cls)


def recorded_transaction(tx: TransactionIn) -> TransactionRecorded:
    """The stored form of a posted transaction: UTC time, sorted attributes."""
    return TransactionRecorded(
        transaction_id=tx.transaction_id, card_id=tx.card_id, event_time=format_time(tx.event_time),
        amount=_stored_number(tx.amount),
        # `canonical_attribute` inlined: this runs for every attribute of every ingested transaction.
        attributes={name: value if isinstance(value, str) else value + 0.0
                    for name, value in sorted(tx.attributes.items())})


def canonical_transaction(tx: TransactionIn) -> dict[str, Any]:
    """The stored form as the log hands it back (decoded JSON). Two posts are identical when these are equal."""
    return msgspec.to_builtins(recorded_transaction(tx))


def canonical_attribute(value: float | str) -> float | str:
    """Numbers are stored as floats (as they always were, so numeric-only digests never change); text as is."""
    return value if isinstance(value, str) else _stored_number(value)


def _stored_number(value: float) -> float:
    """The float itself, except -0.0, which is stored as 0.0: Postgres' JSONB has no negative zero, so the
    log would hand back another float than it was given, and the sign of a zero means nothing here."""
    return float(value) + 0.0  # IEEE 754: -0.0 + 0.0 is 0.0; every other float is unchanged


def recorded_label(label: LabelIn, received_at: datetime) -> LabelRecorded:
    """The stored form of a posted label; without `labeled_at` it is labelled when it was received."""
    return LabelRecorded(transaction_id=label.transaction_id, is_fraud=label.is_fraud,
                         labeled_at=format_time(label.labeled_at or received_at), source=label.source)


def transaction_event(tx: TransactionIn) -> NewEvent:
    """The log row for a validated transaction: its canonical form and that form's digest."""
    return to_row(recorded_transaction(tx), tx.event_time)


def label_event(label: LabelIn, received_at: datetime) -> NewEvent:
    """The log row for a label; without `labeled_at` it is labelled when it was received."""
    return to_row(recorded_label(label, received_at), label.labeled_at or received_at)


def outcome_event(answer: OutcomeIn, *, alert_id: str, transaction_id: str, actor: str, received_at: datetime,
                  ) -> NewEvent:
    """The log row for an answer to alert `alert_id` (on `transaction_id`) sent by the key named `actor`."""
    answered_at = answer.answered_at or received_at
    return to_row(AlertOutcomeRecorded(
        alert_id=alert_id, transaction_id=transaction_id, outcome=answer.outcome,
        is_fraud=answer.outcome == "confirmed_fraud", source=answer.answered_by, actor=actor,
        labeled_at=format_time(answered_at), note=answer.note), answered_at)


def same_answer(stored: Mapping[str, Any], event: NewEvent) -> bool:
    """Whether a stored outcome and a new one are the same answer (a retry): same alert, outcome, source, actor
    and note; the time differs between retries that let the server stamp it."""
    return all(stored.get(name) == event.payload.get(name) for name in ("alert_id", "outcome", "source", "actor",
                                                                         "note"))


def role_event(version: int, role: str, decision: Decision | None, at: datetime) -> NewEvent:
    """The log row giving `version` its `role` (a retirement when `role` is retired) for `decision`."""
    cls = ModelRetired if role == RETIRED else ModelPromoted
    return to_row(cls(model_version=version, role=role, decision=decision), at)


def digest(canonical: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON bytes (`canonical_json`), the identity of a body."""
    return hashlib.sha256(canonical_json(canonical)).hexdigest()


def canonical_json(canonical: dict[str, Any]) -> bytes:
    """A canonical payload as JSON with sorted keys: one spelling per body."""
    return msgspec.json.encode(canonical, order="sorted")


def parse_time(text: str) -> datetime:
    return msgspec.convert(text, AwareDateTime).astimezone(UTC)


