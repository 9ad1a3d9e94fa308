"""Reading `creditcard.csv`-format files and the built-in synthetic stream."""

from __future__ import annotations

import gzip
import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from fraudlog.domain.events import TransactionIn, parse_time
from fraudlog.ml.datasets import CREDITCARD_COLUMNS, creditcard_transactions, read_creditcard_csv, synthetic_stream

START = datetime(2013, 9, 1, tzinfo=UTC)
HEADER = ",".join(f'"{name}"' for name in CREDITCARD_COLUMNS)


def csv_line(time: float, amount: float, fraud: int, pca: float = 0.5) -> str:
    return ",".join([str(time), *[str(pca)] * 28, str(amount), f'"{fraud}"'])


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_the_whole_sample(creditcard_csv: Path) -> None:
    count = frauds = 0
    for row in read_creditcard_csv(creditcard_csv):
        assert row.index == count
        count += 1
        frauds += row.is_fraud
    assert (count, frauds) == (30_000, 415)


def test_first_sample_row_is_parsed_field_by_field(creditcard_csv: Path) -> None:
    first = next(iter(read_creditcard_csv(creditcard_csv)))
    assert (first.index, first.time, first.is_fraud) == (0, 2.0, False)
    assert list(first.pca) == [f"V{i}" for i in range(1, 29)]
    assert first.pca["V1"] == -1.15823309349523


def test_sample_rows_become_valid_http_transactions(creditcard_csv: Path) -> None:
    rows = list(creditcard_transactions(creditcard_csv, start=START, cards=100, limit=500))
    assert len(rows) == 500
    first, _ = rows[0]
    assert first["transaction_id"] == "cc-0"
    assert parse_time(first["event_time"]) == START + timedelta(seconds=2)
    assert set(first["attributes"]) == {f"V{i}" for i in range(1, 29)}
    for transaction, _ in rows:
        msgspec.convert(transaction, TransactionIn)  # raises on anything the API would refuse
    assert len({tx["card_id"] for tx, _ in rows}) > 90


def test_card_ids_depend_on_seed_and_row_only(creditcard_csv: Path) -> None:
    def cards(seed: int, limit: int) -> list[str]:
        return [tx["card_id"] for tx, _ in creditcard_transactions(creditcard_csv, start=START, cards=50,
                                                                    seed=seed, limit=limit)]

    assert cards(7, 100)[:20] == cards(7, 20)
    assert cards(7, 100) != cards(8, 100)
    assert all(card in {f"card-{k}" for k in range(50)} for card in cards(7, 100))


def test_without_cards_the_card_id_is_none(creditcard_csv: Path) -> None:
    tx, _ = next(creditcard_transactions(creditcard_csv, start=START))
    assert tx["card_id"] is None


def test_plain_and_gzip_files_read_alike(tmp_path: Path) -> None:
    lines = [HEADER, csv_line(0, 1.5, 0), csv_line(1, 2.5, 1), ""]
    plain = write_csv(tmp_path / "creditcard.csv", lines)
    packed = tmp_path / "creditcard.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert list(read_creditcard_csv(plain)) == list(read_creditcard_csv(packed))
    assert [row.is_fraud for row in read_creditcard_csv(plain)] == [False, True]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], r"bad\.csv: the file is empty"),
        (['"Time","Amount","Class"', "0,1,0"], r"bad\.csv, line 1: .*missing column\(s\) V1"),
        (
            [HEADER, csv_line(0, 1.0, 0), csv_line(1, 1.0, 0).replace("0.5", "abc", 1)],
            r"bad\.csv, line 3: V1 is not a number",
        ),
        ([HEADER, csv_line(0, 1.0, 0), csv_line(1, 1.0, 2)], r"bad\.csv, line 3: Class must be 0 or 1"),
        ([HEADER, csv_line(0, -1.0, 0)], r"bad\.csv, line 2: Amount must be >= 0"),
        ([HEADER, csv_line(0, float("nan"), 0)], r"bad\.csv, line 2: Amount must be finite"),
        ([HEADER, "0,1,2"], r"bad\.csv, line 2: expected at least 31 fields, got 3"),
    ],
)
def test_malformed_file_is_refused_naming_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        list(read_creditcard_csv(path))


def test_reading_is_lazy(creditcard_csv: Path) -> None:
    rows = read_creditcard_csv(creditcard_csv)
    assert [row.index for row in itertools.islice(rows, 3)] == [0, 1, 2]


# -- the synthetic stream ---------------------------------------------------------------------------------


SYNTH_START = datetime(2026, 1, 5, tzinfo=UTC)


def test_synthetic_stream_is_deterministic_for_a_seed() -> None:
    first = list(synthetic_stream(2_000, seed=5, start=SYNTH_START))
    assert first == list(synthetic_stream(2_000, seed=5, start=SYNTH_START))
    assert first != list(synthetic_stream(2_000, seed=6, start=SYNTH_START))


def test_synthetic_stream_is_valid_in_time_order_and_about_one_to_two_percent_fraud() -> None:
    rows = list(synthetic_stream(20_000, start=SYNTH_START, cards=300))
    times = [parse_time(tx["event_time"]) for tx, _ in rows]
    assert all(earlier < later for earlier, later in itertools.pairwise(times))
    assert times[0] >= SYNTH_START
    fraud_rate = sum(is_fraud for _, is_fraud in rows) / len(rows)
    assert 0.01 <= fraud_rate <= 0.025
    assert len({tx["card_id"] for tx, _ in rows}) <= 300
    assert len({tx["transaction_id"] for tx, _ in rows}) == 20_000
    for transaction, _ in rows[:500]:
        msgspec.convert(transaction, TransactionIn)


def test_synthetic_frauds_come_in_bursts_on_one_card() -> None:
    frauds: dict[str, list[datetime]] = defaultdict(list)
    for tx, is_fraud in synthetic_stream(20_000, start=SYNTH_START):
        if is_fraud:
            frauds[tx["card_id"]].append(parse_time(tx["event_time"]))
    bursts = sum(
        1 for times in frauds.values()
        for i in range(len(times) - 2) if times[i + 2] - times[i] <= timedelta(minutes=10)
    )
    assert bursts >= 20


def test_synthetic_legitimate_payments_are_mostly_by_day_and_frauds_often_at_night() -> None:
    night = {False: 0, True: 0}
    total = {False: 0, True: 0}
    for tx, is_fraud in synthetic_stream(20_000, start=SYNTH_START):
        total[is_fraud] += 1
        night[is_fraud] += parse_time(tx["event_time"]).hour < 6
    assert night[False] / total[False] < 0.1
    assert night[True] / total[True] > 0.3
