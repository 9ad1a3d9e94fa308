"""The synthetic stream sends real categorical fields, and they carry what the card features need to find."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import msgspec

from fraudlog.domain.events import TransactionIn
from fraudlog.domain.features import TxView, batch_features
from fraudlog.ml.datasets import COUNTRIES, MCC_CODES, synthetic_stream

START = datetime(2026, 1, 5, tzinfo=UTC)
NUMBERS = ("merchant_risk", "distance_km", "is_online")


def test_the_numeric_stream_is_the_one_the_generator_made_before_text_fields() -> None:
    """Pinned from the generator as it was before categorical fields: text comes from its own random stream,
    so times, cards, amounts, labels and numeric attributes are unchanged for a seed."""
    digest = hashlib.sha256()
    for tx, is_fraud in synthetic_stream(3_000, seed=11, start=START, cards=80):
        numbers = {k: v for k, v in tx["attributes"].items() if k in NUMBERS}
        digest.update(json.dumps([tx["transaction_id"], tx["card_id"], tx["event_time"], tx["amount"], numbers,
                                  is_fraud], sort_keys=True).encode())
    assert digest.hexdigest() == "97c8b45fc2a2b19b4006bedb5040fe195e2ad851b5044912b94062d146f46132"


def test_transactions_carry_text_fields_the_contract_accepts() -> None:
    for tx, _ in synthetic_stream(2_000, start=START, cards=50):
        msgspec.convert(tx, TransactionIn)
        attributes = tx["attributes"]
        assert attributes["mcc"] in MCC_CODES and attributes["country"] in COUNTRIES
        assert attributes["channel"] in ("online", "chip", "contactless", "magstripe")
        assert ("device_id" in attributes) == (attributes["channel"] == "online")
        assert "category" not in attributes


def test_frauds_come_from_new_devices_countries_and_merchant_bursts_far_more_often_than_legitimate_payments() -> None:
    rows = list(synthetic_stream(20_000, start=START, cards=300))
    views = [TxView.from_payload(i + 1, tx) for i, (tx, _) in enumerate(rows)]
    features = batch_features(views, [], ("device_id", "merchant_id", "country"))

    def rate(name: str, fraud: bool) -> float:
        values = [features[v.position][name] for v, (_, f) in zip(views, rows, strict=True)
                  if f == fraud and name in features[v.position]]
        return sum(float(x) for x in values) / len(values)

    # A day holds few payments of a card, so most merchants are new in it; a burst of them within the hour is not.
    for name in ("card_device_id_new_24h", "card_merchant_id_distinct_1h", "card_country_new_24h"):
        assert rate(name, True) > 2 * rate(name, False), name
    assert rate("card_country_new_24h", False) > 0.005  # legitimate cards travel too
