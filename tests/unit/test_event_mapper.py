"""The event mapper: each event type maps to the log's row and back unchanged, and the row is what the log
has always stored (canonical JSON, its digest); an unknown type is refused."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from fraudlog.domain.events import (
    EVENT_STRUCTS,
    EVENT_TYPES,
    LabelIn,
    LabelRecorded,
    LogEvent,
    ModelPromoted,
    ModelRetired,
    TransactionIn,
    TransactionRecorded,
    UnknownEventType,
    from_row,
    label_event,
    role_event,
    to_row,
    transaction_event,
)
from fraudlog.domain.label_sources import source_of
from fraudlog.domain.records import Decision, Evidence

MOMENT = datetime(2026, 11, 28, 3, 0, 0, 120, tzinfo=UTC)
EVIDENCE = Evidence(champion=1, transactions=900, frauds=40, policy={"min_frauds": 30, "confidence": 0.95},
                    champion_auc=0.81, challenger_auc=0.93, p_value=0.004, difference_interval_95=[0.05, 0.19],
                    test="DeLong, one-sided")
EVENTS: list[LogEvent] = [
    TransactionRecorded(transaction_id="tx-1", card_id="card-1", event_time="2026-11-28T03:00:00.000120Z",
                        amount=12.5, attributes={"V1": -1.25, "country": "FR"}),
    TransactionRecorded(transaction_id="tx-2", card_id=None, event_time="2026-11-28T03:00:01.000000Z", amount=0.0,
                        attributes={}),
    LabelRecorded(transaction_id="tx-1", is_fraud=True, labeled_at="2026-11-28T05:00:00.000000Z"),
    ModelPromoted(model_version=2, role="champion",
                  decision=Decision(kind="automatic", action="promote", reason="better", evidence=EVIDENCE)),
    ModelPromoted(model_version=3, role="challenger", decision=Decision(kind="manual", action="enter", reason="x")),
    ModelPromoted(model_version=4, role="challenger"),
    ModelRetired(model_version=3, role="retired", decision=Decision(kind="manual", action="retire", reason="y")),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_type_maps_to_a_row_and_back_unchanged(event: LogEvent) -> None:
    row = to_row(event, MOMENT)
    assert row.event_type == event.event_type and row.event_time == MOMENT
    assert from_row(row.event_type, row.payload) == event  # the decoded JSON a reader gets
    assert from_row(row.event_type, row.payload_json) == event  # and the stored text
    assert row.digest == hashlib.sha256(row.payload_json.encode()).hexdigest()


def test_the_row_is_the_canonical_json_the_log_always_stored() -> None:
    posted = TransactionIn(transaction_id="tx-9", card_id="c", amount=-0.0,
                           event_time=datetime(2026, 1, 1, 10, tzinfo=timezone(timedelta(hours=2))),
                           attributes={"b": 1, "a": "x", "c": -0.0})
    row = transaction_event(posted)
    assert row.payload_json == ('{"amount":0.0,"attributes":{"a":"x","b":1.0,"c":0.0},"card_id":"c",'
                                '"event_time":"2026-01-01T08:00:00.000000Z","transaction_id":"tx-9"}')
    assert (row.transaction_id, row.card_id, row.event_time) == ("tx-9", "c", posted.event_time)
    label = label_event(LabelIn(transaction_id="tx-9", is_fraud=False), MOMENT)
    assert label.payload == {"transaction_id": "tx-9", "is_fraud": False, "labeled_at": "2026-11-28T03:00:00.000120Z"}


def test_a_role_event_without_a_decision_stores_no_decision_key() -> None:
    assert role_event(4, "challenger", None, MOMENT).payload == {"model_version": 4, "role": "challenger"}
    retired = role_event(3, "retired", Decision(kind="manual", action="retire", reason="r"), MOMENT)
    assert retired.event_type == "retirement"
    assert retired.payload == {"model_version": 3, "role": "retired",
                               "decision": {"kind": "manual", "action": "retire", "reason": "r"}}


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType, match="drift"):
        from_row("drift", {"model_version": 1})


def test_a_payload_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        from_row("label", {"transaction_id": "tx-1"})


def test_the_registry_of_types_names_every_type_the_log_holds() -> None:
    assert set(EVENT_STRUCTS) == set(EVENT_TYPES)
    assert all(cls.event_type == name for name, cls in EVENT_STRUCTS.items())


def test_a_label_without_a_source_keeps_the_bytes_labels_always_had_and_reads_as_api() -> None:
    label = label_event(LabelIn(transaction_id="tx-9", is_fraud=True), MOMENT)
    assert label.payload_json == '{"is_fraud":true,"labeled_at":"2026-11-28T03:00:00.000120Z","transaction_id":"tx-9"}'
    assert source_of(label.payload.get("source")) == "api"
    sourced = label_event(LabelIn(transaction_id="tx-9", is_fraud=True, source="chargeback"), MOMENT)
    assert sourced.payload["source"] == "chargeback" and sourced.digest != label.digest
