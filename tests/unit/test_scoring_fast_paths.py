"""The typed payload decoding scoring reads with (`TxView.from_stored`) gives exactly what `TxView.from_payload`
gives."""

from __future__ import annotations

import math
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from service.domain.features import StoredTransaction, TxView

attribute_values = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**30, 10**30),
                             st.sampled_from(["FR", "web", "0"]))
payloads = st.fixed_dictionaries({
    "transaction_id": st.just("tx-1"),
    "event_time": st.sampled_from(["2026-11-28T03:00:00.000001Z", "2026-01-01T23:59:59.999999Z"]),
    "amount": st.one_of(st.floats(min_value=0, allow_infinity=False), st.integers(0, 10**25)),
    "card_id": st.sampled_from([None, "card-1"]),
    "attributes": st.dictionaries(st.text(min_size=1, max_size=4), attribute_values, max_size=8),
})


def same_view(a: TxView, b: TxView) -> bool:
    """Equal with the same key order and the same bits (== alone calls 0.0 and -0.0 equal)."""
    def typed(view: TxView) -> list[Any]:
        return [(name, type(value), math.copysign(1, value) if isinstance(value, float) else value)
                for name, value in view.attributes.items()]
    return a == b and typed(a) == typed(b) and type(a.amount) is type(b.amount) is float


@given(payloads)
def test_the_typed_decoding_gives_the_view_from_payload_gives(payload: dict[str, Any]) -> None:
    stored = msgspec.json.decode(msgspec.json.encode(payload), type=StoredTransaction)
    assert same_view(TxView.from_stored(7, stored), TxView.from_payload(7, payload))


def test_a_negative_zero_attribute_reads_as_zero_and_names_are_sorted() -> None:
    payload = {"transaction_id": "tx-1", "event_time": "2026-11-28T03:00:00Z", "amount": 1,
               "attributes": {"b": -0.0, "a": 100000000000000000000000, "c": "FR"}}
    view = TxView.from_stored(1, msgspec.json.decode(msgspec.json.encode(payload), type=StoredTransaction))
    assert list(view.attributes.items()) == [("a", 1e23), ("b", 0.0), ("c", "FR")]
    assert math.copysign(1, view.attributes["b"]) == 1.0 and type(view.amount) is float
