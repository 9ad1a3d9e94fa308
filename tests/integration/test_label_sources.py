"""Labels with provenance: one precedence rule picks the effective label, in the log's reads, in the labels
projection, in training at a cut and in a rebuild (docs/outcomes.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.engine import Engine

from fraudlog.domain.label_sources import LabelSource
from fraudlog.lifecycle.verification import verify_version
from fraudlog.lifecycle.window import read_window
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.rebuild import rebuild
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.labels import effective_labels, effective_verdicts, label_for
from tests.integration.test_verify import retrained_version
from tests.support.data import label_event
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, synthetic_rows

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def post(engine: Engine, *labels: tuple[str, bool, LabelSource | None]) -> list[str]:
    """Append each label in its own unit, in order; returns the receipts' statuses."""
    log = EventLog(engine)
    return [log.append_labels([[label_event(tx, verdict, NOW, source)]])[0].receipts[0].status
            for tx, verdict, source in labels]


@pytest.mark.parametrize("order", ["chargeback_first", "chargeback_last"])
def test_a_chargeback_outranks_a_customer_answer_whatever_the_order(engine: Engine, order: str) -> None:
    customer: tuple[str, bool, LabelSource | None] = ("tx-1", False, "customer")
    chargeback: tuple[str, bool, LabelSource | None] = ("tx-1", True, "chargeback")
    post(engine, *((chargeback, customer) if order == "chargeback_first" else (customer, chargeback)))
    with engine.connect() as conn:
        [(tx, verdict)] = effective_verdicts(conn).items()
    assert (tx, verdict.is_fraud, verdict.source) == ("tx-1", True, "chargeback")
    row = label_for(engine, "tx-1")
    assert row is not None and (row.is_fraud, row.source, row.position) == (True, "chargeback", verdict.position)


def test_precedence_runs_chargeback_analyst_customer_then_api(engine: Engine) -> None:
    post(engine, ("tx-1", True, "chargeback"), ("tx-1", False, "analyst"),  # the chargeback stays
         ("tx-2", True, "analyst"), ("tx-2", False, "customer"), ("tx-2", False, None),  # the analyst stays
         ("tx-3", True, "customer"), ("tx-3", False, "api"), ("tx-3", False, "import"))  # the customer stays
    with engine.connect() as conn:
        assert effective_labels(conn) == {"tx-1": True, "tx-2": True, "tx-3": True}
    assert [(row.source, row.is_fraud) for row in map(lambda tx: label_for(engine, tx), ("tx-1", "tx-2", "tx-3"))
            if row is not None] == [("chargeback", True), ("analyst", True), ("customer", True)]


def test_within_one_rank_the_label_known_last_wins(engine: Engine) -> None:
    statuses = post(engine, ("tx-1", True, None), ("tx-1", False, "import"), ("tx-1", False, "api"))
    # `api` and `import` share a rank: the import corrects the api label; the api label then repeats it.
    assert statuses == ["accepted", "correction", "accepted"]
    row = label_for(engine, "tx-1")
    assert row is not None and (row.is_fraud, row.source, row.corrections) == (False, "api", 1)


def test_receipts_say_what_a_label_did(engine: Engine) -> None:
    assert post(engine, ("tx-1", False, "customer"), ("tx-1", False, "customer"), ("tx-1", True, "chargeback"),
                ("tx-1", False, "customer")) == ["accepted", "duplicate", "correction", "accepted"]
    # The outranked customer answer is kept in the log, not effective.
    with engine.connect() as conn:
        assert effective_labels(conn) == {"tx-1": True}
    assert EventLog(engine).count("label") == 3


def test_effective_labels_at_a_position_ignore_every_later_label(engine: Engine) -> None:
    post(engine, ("tx-1", False, "customer"))
    cut = EventLog(engine).last_position()
    post(engine, ("tx-1", True, "chargeback"))
    with engine.connect() as conn:
        assert effective_labels(conn, through=cut) == {"tx-1": False}
        assert effective_labels(conn) == {"tx-1": True}


def test_a_version_retrained_from_lineage_after_later_chargebacks_has_the_same_sha256(engine: Engine) -> None:
    version = retrained_version(engine, "logreg")
    registry = ModelRegistry(engine, SECRET)
    data = registry.get(version).training_data
    assert data.label_cut is not None
    before = read_window(engine, data.label_cut, data.window or 0)
    # Every label the version learned is contradicted by a chargeback, after its cut.
    with engine.connect() as conn:
        learned = effective_labels(conn, through=data.label_cut)
    post(engine, *((tx, not verdict, "chargeback") for tx, verdict in learned.items()))
    assert read_window(engine, data.label_cut, data.window or 0).sha256 == before.sha256 == data.sha256
    report = verify_version(registry, version)
    assert report.reproduced, report.lines()


def test_a_rebuild_recomputes_the_effective_labels_and_their_sources(engine: Engine, tmp_path: Path) -> None:
    rows = synthetic_rows(6, seed=3, cards=2)
    append_transactions(engine, rows)
    ids = [body["transaction_id"] for body, _ in rows]
    post(engine, (ids[0], True, "chargeback"), (ids[0], False, "customer"), (ids[1], False, "customer"),
         (ids[1], True, "analyst"), (ids[2], True, None), (ids[2], False, None))
    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET, chunk=2)
    target = create_engine(target_url)
    try:
        for tx in ids[:3]:
            assert msgspec.to_builtins(label_for(target, tx)) == msgspec.to_builtins(label_for(engine, tx))
        with target.connect() as conn:
            assert effective_labels(conn) == {ids[0]: True, ids[1]: True, ids[2]: False}
    finally:
        target.dispose()
