"""The shortcuts scoring takes give exactly what the plain definitions give: the typed payload decoding
(`TxView.from_stored`) and `score_one`'s one-pass filtering of the features a model is given."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraudlog.domain.features import StoredTransaction, TxView
from fraudlog.ml import specs
from fraudlog.ml.encoders import numbers_only
from fraudlog.ml.specs import build_model, learn_one, score_one, spec_for

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


def reference_features(model: Any, spec: specs.ModelSpec, features: Mapping[str, Any]) -> Mapping[str, Any]:
    """What `score_one` gave the model before it filtered in one pass: select, numbers only, known numbers."""
    family = specs._family(spec.name)
    features = spec.features.select(features)
    text = family.takes_text(spec.params)
    if not text:
        features = numbers_only(features)
    known = family.known(model)
    if known is not None and not features.keys() <= known.keys():
        features = {name: value for name, value in features.items()
                    if name in known or (text and isinstance(value, str))}
    return features


@pytest.mark.parametrize("model_name", ["hst", "logreg"])
def test_score_one_gives_the_model_the_features_the_three_filters_gave(model_name: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_for(model_name)
    model = build_model(spec)
    everything = spec.with_features(exclude=())  # so the model knows features `spec` leaves out
    for i in range(50):
        learn_one(model, everything, {"amount": float(i), "attr_V1": i / 7, "attr_country": "FR", "hour_of_day": 1.0},
                  i % 3 == 0)
    events = [{"amount": 3.0, "hour_sin": 0.5, "attr_V1": 0.25, "attr_country": "DE", "attr_new": 1.0},
              {"attr_country": "FR", "amount": 1e23, "hour_of_day": 2.0},
              {"amount": 1.0, "attr_V1": -1.0}]
    given_to_model: list[Mapping[str, Any]] = []
    family = specs._FAMILIES[model_name]
    monkeypatch.setitem(specs._FAMILIES, model_name, dataclasses.replace(
        family, score=lambda _model, features: given_to_model.append(features) or 0.0))
    for features in events:
        score_one(model, spec, features)
        assert list(given_to_model.pop().items()) == list(reference_features(model, spec, features).items())
