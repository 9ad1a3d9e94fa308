"""Transaction streams for training, demos and benchmarks: the `creditcard.csv` layout, and a synthetic
stream with cards that needs no data file.

Both yield `(transaction, is_fraud)` where the transaction is a dict in the HTTP contract's shape, ready
to be posted to `/v1/transactions` or validated as a `TransactionIn`.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from fraudlog.domain.events import LabelledTransaction, TransactionBody, format_time

PCA_COLUMNS = tuple(f"V{i}" for i in range(1, 29))
CREDITCARD_COLUMNS = ("Time", *PCA_COLUMNS, "Amount", "Class")


@dataclass(frozen=True, slots=True)
class CreditCardRow:
    """One data row of a `creditcard.csv`-format file; `index` counts data rows from 0."""

    index: int
    time: float  # seconds since the data set's first transaction
    pca: dict[str, float]  # V1..V28
    amount: float
    is_fraud: bool


def read_creditcard_csv(path: str | Path) -> Iterator[CreditCardRow]:
    """Stream the rows of a `creditcard.csv`-format file (gzip-compressed when its name ends in `.gz`).

    Memory stays constant whatever the file's size. A malformed file raises ValueError naming the file
    and the line.
    """
    path = Path(path)
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: the file is empty; expected a header {','.join(CREDITCARD_COLUMNS)}")
        columns = _column_indexes(path, header)
        index = 0
        for fields in reader:
            if not fields:  # a blank line, e.g. at the end of a hand-edited file
                continue
            try:
                row = _parse_row(index, fields, columns)
            except ValueError as exc:
                raise ValueError(f"{path}, line {reader.line_num}: {exc}") from None
            yield row
            index += 1


def creditcard_transactions(
    path: str | Path,
    *,
    start: datetime,
    cards: int | None = None,
    seed: int = 7,
    limit: int | None = None,
) -> Iterator[LabelledTransaction]:
    """The rows of a `creditcard.csv`-format file as transactions, with their fraud label.

    `transaction_id` is `cc-<row index>`; `event_time` is `start` plus the row's `Time` seconds; the
    attributes are V1..V28. The data has no card ids: with `cards`, each row gets one of `cards` ids
    (`card-<k>`), drawn from a hash of `seed` and the row index, so a row keeps its card whatever `limit`
    is. Those cards are random, so card features carry no signal on this data.
    """
    if start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if cards is not None and cards < 1:
        raise ValueError(f"cards must be at least 1, got {cards}")
    for row in read_creditcard_csv(path):
        if limit is not None and row.index >= limit:
            return
        transaction: TransactionBody = {
            "transaction_id": f"cc-{row.index}",
            "card_id": None if cards is None else f"card-{_card_of(seed, row.index, cards)}",
            "event_time": format_time(start + timedelta(seconds=row.time)),
            "amount": row.amount,
            "attributes": dict(row.pca),
        }
        yield transaction, row.is_fraud


def _open_text(path: Path) -> IO[str]:
    # newline="" is what the csv module asks for, so quoted fields may hold line breaks.
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _column_indexes(path: Path, header: list[str]) -> list[int]:
    names = [name.strip() for name in header]
    missing = [name for name in CREDITCARD_COLUMNS if name not in names]
    if missing:
        raise ValueError(
            f"{path}, line 1: not a creditcard.csv header, missing column(s) {', '.join(missing)}; "
            f"expected {','.join(CREDITCARD_COLUMNS)}"
        )
    return [names.index(name) for name in CREDITCARD_COLUMNS]


def _parse_row(index: int, fields: list[str], columns: list[int]) -> CreditCardRow:
    if len(fields) <= max(columns):
        raise ValueError(f"expected at least {max(columns) + 1} fields, got {len(fields)}")
    values = [fields[i].strip() for i in columns]
    numbers = [_number(name, text) for name, text in zip(CREDITCARD_COLUMNS[:-1], values[:-1], strict=True)]
    if values[-1] not in ("0", "1"):
        raise ValueError(f"Class must be 0 or 1, got {values[-1]!r}")
    amount = numbers[-1]
    if amount < 0:
        raise ValueError(f"Amount must be >= 0, got {amount}")
    return CreditCardRow(
        index=index,
        time=numbers[0],
        pca=dict(zip(PCA_COLUMNS, numbers[1:-1], strict=True)),
        amount=amount,
        is_fraud=values[-1] == "1",
    )


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {text!r}")
    return value


def _card_of(seed: int, index: int, cards: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % cards


# --- The synthetic stream -------------------------------------------------------------------------------
#
# Cards with habits (activity, typical amount, distance from home, online share) pay mostly in the daytime.
# Fraud comes in episodes on one card: a burst of payments minutes apart (sometimes after a few tiny
# "card testing" payments), or a single payment; either way for amounts far above the card's habit, at
# riskier merchants, far away, mostly online, often at night. Each of those is something the card
# features or the attributes can catch, and none is a giveaway on its own.
#
# The categorical fields are what a bank sends (`fraudlog.domain.categorical`): a card lives in a home
# country and shops mostly at its usual merchants on its own devices; it travels now and then (a day abroad,
# in one country), and sometimes changes its phone. A fraudster uses the stolen card at merchants the card
# never used, often from abroad, online mostly from a device the card never had. So "a new country",
# "a new device" and "several new merchants in minutes" carry signal, and legitimate travel and new phones
# keep each of them from being a giveaway. They are drawn from their own random stream, so the numeric
# stream (times, cards, amounts, labels) is the one the generator always made for a seed.

CATEGORIES = (
    "groceries", "restaurants", "transport", "retail", "electronics",
    "travel", "entertainment", "gift_cards", "jewelry", "gambling",
)
# Merchant category codes (ISO 18245) of the categories above, sent as text as card networks do.
MCC_CODES = ("5411", "5812", "4111", "5311", "5732", "4722", "7832", "5947", "5944", "7995")
COUNTRIES = ("FR", "DE", "ES", "IT", "GB", "NL", "BE", "CH", "US", "JP", "BR", "TH")
_HOME_COUNTRY_WEIGHTS = (30, 25, 15, 10, 8, 5, 4, 3, 0, 0, 0, 0)
_MERCHANTS = 5_000
_NEW_DEVICE_CHANCE = 0.002  # per payment: a new phone every year or so at four payments a day
_LEGIT_CATEGORY_WEIGHTS = (30, 20, 15, 15, 5, 4, 6, 1, 1, 3)
_FRAUD_CATEGORY_WEIGHTS = (4, 2, 2, 10, 25, 8, 4, 25, 12, 8)
# Chance, per legitimate payment, that a fraud episode begins somewhere: about 1.5 % of payments are fraud.
_EPISODE_CHANCE = 0.0038
_MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class _Card:
    activity: float
    habit_amount: float
    home_km: float
    online_share: float


@dataclass(slots=True)
class _Habits:
    """A card's categorical habits, drawn from the text stream (see above); devices change as it goes."""

    home: str
    merchants: tuple[str, ...]
    devices: list[str]


@dataclass(frozen=True, slots=True)
class _Draft:
    card: int
    amount: float
    attributes: dict[str, float | str]
    is_fraud: bool


def synthetic_stream(
    n: int, *, seed: int = 7, start: datetime, cards: int = 500
) -> Iterator[LabelledTransaction]:
    """`n` synthetic transactions on `cards` cards, in increasing event time, with their fraud label.

    Deterministic for a given seed. Ids are `syn-<seed>-<index>`, cards `card-<k>`; attributes are
    `merchant_risk` (0-1), `distance_km`, `is_online` (0 or 1), and as text `mcc` (a merchant category code,
    `MCC_CODES`), `merchant_id`, `country`, `channel` (`online`, `chip`, `contactless` or `magstripe`) and
    `device_id` (online payments only). Legitimate volume is about 4 payments per card per day, whatever
    `cards` is; the daily rhythm (busy by day, quiet at night) follows the clock of `start`'s offset.
    """
    if start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if cards < 1:
        raise ValueError(f"cards must be at least 1, got {cards}")
    rng = random.Random(seed)
    profiles = [_draw_card(rng) for _ in range(cards)]
    text = random.Random(f"{seed}:text")
    habits = [_draw_habits(text, card) for card in range(cards)]
    cumulative = list(itertools.accumulate(card.activity for card in profiles))
    mean_gap = 10_000.0 / cards  # seconds between candidate payments, before the daily rhythm thins them
    scheduled: list[tuple[int, int, _Draft]] = []  # fraud payments to come: (micros, sequence, draft)
    next_legit = _next_daytime(rng, 0, mean_gap, start)
    last = -1
    for index in range(n):
        if scheduled and scheduled[0][0] <= next_legit:
            at, _, draft = heapq.heappop(scheduled)
        else:
            at = next_legit
            # min(): the product can round up to the total, which no card's bucket contains
            card = min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), cards - 1)
            draft = _legit_payment(rng, card, profiles[card])
            next_legit = _next_daytime(rng, at, mean_gap, start)
            if rng.random() < _EPISODE_CHANCE:
                _schedule_episode(rng, scheduled, at, profiles, start, sequence=index)
        last = max(at, last + 1)  # strictly increasing times, even when two payments coincide
        moment = start + timedelta(microseconds=last)
        _add_text(text, draft, habits[draft.card], moment)
        yield _transaction(draft, seed, index, moment), draft.is_fraud


def _draw_card(rng: random.Random) -> _Card:
    return _Card(
        activity=rng.lognormvariate(0.0, 0.6),
        habit_amount=rng.lognormvariate(3.3, 0.8),
        home_km=rng.lognormvariate(1.5, 0.5),
        online_share=rng.betavariate(2, 5),
    )


def _draw_habits(rng: random.Random, card: int) -> _Habits:
    home = rng.choices(COUNTRIES, weights=_HOME_COUNTRY_WEIGHTS)[0]
    merchants = tuple(f"m-{rng.randrange(_MERCHANTS)}" for _ in range(rng.randint(5, 15)))
    return _Habits(home, merchants, [f"dev-{card}-0"])


def _add_text(rng: random.Random, draft: _Draft, habits: _Habits, moment: datetime) -> None:
    """The categorical fields of a payment, from the card's habits (legitimate) or against them (fraud)."""
    attributes = draft.attributes
    online = attributes["is_online"] == 1.0
    abroad = float(attributes["distance_km"]) > 300.0
    if draft.is_fraud:
        # Stolen card data is sold abroad: often used from another country, whatever the distance says.
        country = rng.choice([c for c in COUNTRIES if c != habits.home]) if rng.random() < 0.4 else habits.home
        merchant = f"m-{rng.randrange(_MERCHANTS)}"
        device = f"dev-x{rng.randrange(10**6)}" if rng.random() < 0.8 else habits.devices[-1]
        channel = "online" if online else rng.choice(("chip", "magstripe"))
    else:
        # A trip lasts the day: every payment of that day abroad is in the same country.
        country = _trip_country(habits, moment) if abroad else habits.home
        merchant = rng.choice(habits.merchants) if rng.random() < 0.7 else f"m-{rng.randrange(_MERCHANTS)}"
        if rng.random() < _NEW_DEVICE_CHANCE:
            habits.devices.append(f"{habits.devices[0][:-2]}-{len(habits.devices)}")
        device = habits.devices[-1]
        channel = "online" if online else ("magstripe" if rng.random() < 0.02 else
                                           rng.choice(("chip", "contactless")))
    attributes["mcc"] = MCC_CODES[int(attributes.pop("category"))]
    attributes.update({"merchant_id": merchant, "country": country, "channel": channel})
    if online:
        attributes["device_id"] = device


def _trip_country(habits: _Habits, moment: datetime) -> str:
    abroad = [c for c in COUNTRIES if c != habits.home]
    digest = hashlib.blake2b(f"{habits.devices[0]}:{moment.date()}".encode(), digest_size=4).digest()
    return abroad[int.from_bytes(digest, "big") % len(abroad)]


def _next_daytime(rng: random.Random, after: int, mean_gap: float, start: datetime) -> int:
    """The next legitimate payment: Poisson arrivals thinned by the hour, busy by day and quiet at night."""
    at = after
    while True:
        at += 1 + int(rng.expovariate(1.0 / mean_gap) * _MICROS)
        hour = _hour(start, at)
        daylight = math.sin(math.pi * (hour - 6.0) / 16.0) if 6.0 <= hour <= 22.0 else 0.0
        if rng.random() < 0.1 + 0.9 * daylight:
            return at


def _legit_payment(rng: random.Random, card: int, profile: _Card) -> _Draft:
    travelling = rng.random() < 0.03
    distance = rng.lognormvariate(5.0, 1.0) if travelling else profile.home_km * rng.lognormvariate(0.0, 0.8)
    return _Draft(
        card=card,
        amount=max(0.5, round(profile.habit_amount * rng.lognormvariate(0.0, 0.5), 2)),
        attributes=_attributes(
            risk=rng.betavariate(2, 12),
            distance=distance,
            online=rng.random() < profile.online_share,
            category=_category(rng, _LEGIT_CATEGORY_WEIGHTS),
        ),
        is_fraud=False,
    )


def _schedule_episode(
    rng: random.Random,
    scheduled: list[tuple[int, int, _Draft]],
    now: int,
    profiles: list[_Card],
    start: datetime,
    sequence: int,
) -> None:
    card = rng.randrange(len(profiles))
    at = now + int(rng.uniform(60.0, 6 * 3600.0) * _MICROS)
    if rng.random() < 0.4:  # fraudsters like the hours when the card holder sleeps
        at = _next_night(rng, at, start)
    burst = rng.random() < 0.65
    size = rng.randint(3, 7) if burst else 1
    testing = rng.randint(1, 2) if burst and rng.random() < 0.4 else 0
    for step in range(testing + size):
        draft = _fraud_payment(rng, card, profiles[card], tiny=step < testing)
        heapq.heappush(scheduled, (at, sequence * 100 + step, draft))
        at += 1 + int(rng.expovariate(1.0 / 90.0) * _MICROS)  # minutes apart: a burst


def _next_night(rng: random.Random, at: int, start: datetime) -> int:
    hours_to_midnight = 24.0 - _hour(start, at)
    return at + int((hours_to_midnight + rng.uniform(0.0, 5.0)) * 3600 * _MICROS)


def _fraud_payment(rng: random.Random, card: int, profile: _Card, *, tiny: bool) -> _Draft:
    amount = rng.uniform(0.5, 3.0) if tiny else profile.habit_amount * rng.lognormvariate(1.2, 0.7)
    # Half the time the stolen card is used near its home, so distance alone cannot tell.
    far = rng.random() < 0.5
    distance = rng.lognormvariate(4.0, 1.0) if far else profile.home_km * rng.lognormvariate(0.0, 0.8)
    return _Draft(
        card=card,
        amount=round(amount, 2),
        attributes=_attributes(
            risk=rng.betavariate(3, 6),
            distance=distance,
            online=rng.random() < 0.6,
            category=_category(rng, _FRAUD_CATEGORY_WEIGHTS),
        ),
        is_fraud=True,
    )


def _attributes(*, risk: float, distance: float, online: bool, category: int) -> dict[str, float | str]:
    return {
        "merchant_risk": round(risk, 4),
        "distance_km": round(distance, 1),
        "is_online": 1.0 if online else 0.0,
        "category": float(category),
    }


def _category(rng: random.Random, weights: tuple[int, ...]) -> int:
    return rng.choices(range(len(CATEGORIES)), weights=weights)[0]


def _hour(start: datetime, at: int) -> float:
    moment = start + timedelta(microseconds=at)
    return moment.hour + moment.minute / 60.0 + moment.second / 3600.0


def _transaction(draft: _Draft, seed: int, index: int, moment: datetime) -> TransactionBody:
    return {
        "transaction_id": f"syn-{seed}-{index}",
        "card_id": f"card-{draft.card}",
        "event_time": format_time(moment),
        "amount": draft.amount,
        "attributes": draft.attributes,
    }
