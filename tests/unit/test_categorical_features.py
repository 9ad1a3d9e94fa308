"""Per-card categorical features (`fraudlog.domain.categorical`): each one equals a brute-force recomputation
from its definition on random logs, under any batching; numbers-only transactions get exactly the features
they got before categories existed."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fraudlog.domain.categorical import feature_names
from fraudlog.domain.events import TransactionIn, canonical_transaction
from fraudlog.domain.features import HistoryQuery, TxView, batch_features, compute_features, history_query

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
CATEGORIES = ("country", "merchant_id")


def bits(features: dict[str, float | str]) -> dict[str, str]:
    return {name: value.hex() if isinstance(value, float) else repr(value) for name, value in features.items()}


def brute_force(e: TxView, log: list[TxView], categories: tuple[str, ...]) -> dict[str, float]:
    """The four definitions of the module docstring, read literally, over the whole log."""
    window = [p for p in log if p.card_id == e.card_id and p.position < e.position
              and e.event_time - DAY < p.event_time <= e.event_time]
    expected: dict[str, float] = {}
    if e.card_id is None:
        return expected
    for category in categories:
        value = e.attributes.get(category)
        if not isinstance(value, str):
            continue
        texts = [p.attributes.get(category) for p in window]
        texts_1h = [p.attributes.get(category) for p in window if p.event_time > e.event_time - HOUR]
        same = sum(1 for t in texts if t == value)
        expected[f"card_{category}_new_24h"] = 1.0 if same == 0 else 0.0
        expected[f"card_{category}_same_24h"] = float(same)
        expected[f"card_{category}_distinct_24h"] = float(len({t for t in texts if isinstance(t, str)}))
        expected[f"card_{category}_distinct_1h"] = float(len({t for t in texts_1h if isinstance(t, str)}))
    return expected


def categorical_part(features: dict[str, float | str]) -> dict[str, float | str]:
    names = {name for category in CATEGORIES for name in feature_names(category)}
    return {name: value for name, value in features.items() if name in names}


_values = st.one_of(st.none(), st.sampled_from(["FR", "DE", "Zürich", "東京", "🛒"]), st.just(7.0))
_rows = st.lists(
    # Half-hour steps make events exactly one hour and one day apart common: the windows' edges get tested.
    st.tuples(st.sampled_from(["a", "b", None]),
              st.one_of(st.integers(-60, 60).map(lambda k: k * 1_800_000_000),
                        st.integers(-30 * 3600, 30 * 3600).map(lambda s: s * 1_000_000)),
              _values, st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3"]))),
    min_size=1, max_size=40,
)


def _log(rows: list[tuple[str | None, int, object, str | None]]) -> list[TxView]:
    # Positions have gaps and event times are not in position order: late events included.
    log = []
    for i, (card, offset, country, merchant) in enumerate(rows):
        attributes: dict[str, float | str] = {"V1": float(i)}
        if country is not None:
            attributes["country"] = country  # type: ignore[assignment]
        if merchant is not None:
            attributes["merchant_id"] = merchant
        log.append(TxView(3 * i + 1, f"tx-{i}", card, T0 + timedelta(microseconds=offset), 1.0, attributes))
    return log


def _fetch(log: list[TxView], query: HistoryQuery | None) -> list[TxView]:
    """What the store returns for a history query: the card, time, amount and text of the categories."""
    if query is None:
        return []
    return [TxView(e.position, e.transaction_id, e.card_id, e.event_time, e.amount,
                   {k: v for k, v in e.attributes.items() if k in CATEGORIES and isinstance(v, str)})
            for e in log
            if e.card_id in query.card_ids and e.event_time > query.since and e.position < query.before_position]


@settings(max_examples=300, deadline=None)
@given(rows=_rows)
def test_categorical_card_features_equal_a_brute_force_recomputation(
    rows: list[tuple[str | None, int, object, str | None]],
) -> None:
    log = _log(rows)
    for e in log:
        assert bits(categorical_part(compute_features(e, log, CATEGORIES))) == bits(
            dict(brute_force(e, log, CATEGORIES)))


@settings(max_examples=300, deadline=None)
@given(rows=_rows, data=st.data())
def test_categorical_features_are_bit_identical_under_any_batching(
    rows: list[tuple[str | None, int, object, str | None]], data: st.DataObject,
) -> None:
    log = _log(rows)
    expected = {e.position: bits(compute_features(e, log[:i], CATEGORIES)) for i, e in enumerate(log)}
    order = data.draw(st.permutations(log), label="processing order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(log) - 1))), label="cuts"))
    shuffler = random.Random(data.draw(st.integers(0, 2**32), label="shuffle seed"))
    actual: dict[int, dict[str, str]] = {}
    for lo, hi in zip([0, *cuts], [*cuts, len(order)], strict=True):
        batch = order[lo:hi]
        candidates = _fetch(log, history_query(batch))
        shuffler.shuffle(candidates)
        for position, features in batch_features(batch, candidates, CATEGORIES).items():
            actual[position] = bits(features)
    assert actual == expected


def test_a_new_country_three_merchants_in_ten_minutes_and_a_known_device() -> None:
    def at(position: int, minutes: float, **attributes: float | str) -> TxView:
        return TxView(position, f"tx-{position}", "card-1", T0 + timedelta(minutes=minutes), 10.0, dict(attributes))

    history = [at(1, -600, country="FR", merchant_id="m1", device_id="d1"),
               at(2, -10, country="FR", merchant_id="m2", device_id="d1"),
               at(3, -5, country="FR", merchant_id="m3", device_id="d1")]
    features = compute_features(at(4, 0, country="BR", merchant_id="m3", device_id="d1"), history,
                                ("country", "merchant_id", "device_id"))
    assert features["card_country_new_24h"] == 1.0
    assert features["card_country_same_24h"] == 0.0
    assert features["card_country_distinct_24h"] == 1.0
    assert features["card_merchant_id_distinct_1h"] == 2.0  # m2, m3: m1 was ten hours ago
    assert features["card_merchant_id_distinct_24h"] == 3.0
    assert features["card_merchant_id_new_24h"] == 0.0
    assert features["card_device_id_same_24h"] == 3.0


def test_numbers_only_transactions_get_exactly_the_features_they_got_without_categories() -> None:
    rng = random.Random(3)
    log = [TxView(i + 1, f"tx-{i}", f"card-{rng.randrange(3)}", T0 + timedelta(minutes=rng.randrange(3000)),
                  round(rng.uniform(0, 500), 2), {"V1": rng.gauss(0, 1), "mcc": 5411.0})
           for i in range(200)]
    with_categories = batch_features(log, log, ("mcc", "country", "merchant_id", "channel", "device_id"))
    without = batch_features(log, log)
    assert {p: bits(f) for p, f in with_categories.items()} == {p: bits(f) for p, f in without.items()}


def test_text_attributes_pass_to_models_as_attr_strings_and_a_cardless_one_gets_no_card_features() -> None:
    posted = TransactionIn(transaction_id="t-1", event_time=T0, amount=3.0,
                           attributes={"country": "東京", "V1": 2})
    view = TxView.from_payload(1, canonical_transaction(posted))
    features = compute_features(view, [], CATEGORIES)
    assert features["attr_country"] == "東京" and features["attr_V1"] == 2.0
    assert not any(name.startswith("card_") for name in features)
    assert all(math.isfinite(v) for v in features.values() if isinstance(v, float))
