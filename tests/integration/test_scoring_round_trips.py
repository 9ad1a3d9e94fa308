"""A scoring batch's round trips on Postgres, and what reading and writing in fewer of them must keep: the role
table consecutive batches see, the rows the pipelined reads return, and writes that are all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.domain.assignment import CHALLENGER, CHAMPION, RoleChange
from fraudlog.domain.events import TransactionIn, transaction_event
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog.store.errors import StoreError
from fraudlog.store.event_log import EventLog, last_position, read_transactions
from fraudlog.store.postgres import SCORED_AT
from fraudlog.store.predictions import existing_predictions, insert_predictions
from fraudlog.store.roles import role_changes
from fraudlog.store.scoring_batch import read_batch, write_batch
from fraudlog.store.tables import predictions
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.round_trips import counted_url

MOMENT = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def champions_by_position(engine: Engine) -> dict[int, set[tuple[int, bool]]]:
    stored: dict[int, set[tuple[int, bool]]] = {}
    with engine.connect() as conn:
        for position, version, champion in conn.execute(
                sa.select(predictions.c.position, predictions.c.model_version, predictions.c.champion)):
            stored.setdefault(position, set()).add((version, champion))
    return stored


@pytest.mark.postgres
def test_a_batch_of_50_costs_three_round_trips_on_postgres(pg_url: str) -> None:
    with counted_url(pg_url) as (url, counter):
        engine = create_engine(url)
        try:
            install_version(engine, alert_rate=0.2)
            scorer = Scorer(engine, ModelRegistry(engine, SECRET))
            rows = synthetic_rows(200, seed=21)
            trips: list[int] = []
            for start in range(0, 200, 50):
                positions = append_transactions(engine, rows[start:start + 50])  # each batch beyond the role table
                before = counter.count
                assert scorer.score_positions(positions).predictions == 50
                trips.append(counter.count - before)
            scorer.close()
        finally:
            engine.dispose()
    # The events, role changes and stored predictions; the history; BEGIN, the inserts and COMMIT. No ping. The
    # first batch also loads the model version (on connections of its own).
    assert trips[1:] == [3, 3, 3], trips


@pytest.mark.postgres
def test_a_batch_whose_connection_the_database_dropped_runs_again_on_a_new_one(pg_engine: Engine) -> None:
    install_version(pg_engine)
    scorer = Scorer(pg_engine, ModelRegistry(pg_engine, SECRET))
    rows = synthetic_rows(40, seed=24)
    scorer.score_positions(append_transactions(pg_engine, rows[:20]))  # its connection now waits in its pool
    with pg_engine.connect() as conn:  # as a restart would: every other connection to the database is dropped
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    second = append_transactions(pg_engine, rows[20:])
    try:
        assert scorer.score_positions(second).predictions == 20
    finally:
        scorer.close()
    assert len(champions_by_position(pg_engine)) == 40


def test_a_promotion_and_a_challenger_between_two_batches_score_the_second(engine: Engine) -> None:
    first_version = install_version(engine)
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))  # its role table is read with the first batch
    rows = synthetic_rows(60, seed=22)
    first = append_transactions(engine, rows[:30])
    scorer.score_positions(first)
    champion = install_version(engine)  # promoted by another registry, as the scheduler's would
    challenger = install_version(engine, promote=False)
    second = append_transactions(engine, rows[30:])
    scorer.score_positions(second)
    stored = champions_by_position(engine)
    assert all(stored[p] == {(first_version, True)} for p in first)
    assert all(stored[p] == {(champion, True), (challenger, False)} for p in second)


@pytest.mark.postgres
def test_the_pipelined_reads_give_what_the_store_functions_give(pg_engine: Engine) -> None:
    install_version(pg_engine)
    scorer = Scorer(pg_engine, ModelRegistry(pg_engine, SECRET))
    positions = append_transactions(pg_engine, synthetic_rows(40, seed=23))
    scorer.score_positions(positions[:20])
    with pg_engine.connect() as conn:
        promotions = [change.position for change in role_changes(conn, through=last_position(conn))]
    install_version(pg_engine, promote=False)
    sent = TransactionIn(transaction_id="tx-extreme", event_time=MOMENT, amount=1e23, card_id="card-1",
                         attributes={"big": 1e23, "tiny": 5e-324, "text": "FR"})
    [extreme] = EventLog(pg_engine).append_transactions([[transaction_event(sent)]])
    wanted = [*positions[10:], extreme.receipts[0].position, 10**9]  # 10**9: no event there
    with pg_engine.connect() as conn:
        for after in (0, promotions[0]):  # a role change at `after` is not read again
            batch = read_batch(conn, list(reversed(wanted)), roles_after=after)
            newest = last_position(conn)
            assert batch.records == read_transactions(conn, wanted)
            assert (batch.role_changes, batch.roles_through) == (role_changes(conn, after=after, through=newest),
                                                                 newest)
            ids = [record.view.transaction_id for record in batch.records]
            assert batch.scored == existing_predictions(conn, ids) and len(batch.scored) == 10


@pytest.mark.postgres
def test_a_batch_finds_its_stored_predictions_by_key_on_a_table_never_analysed(pg_engine: Engine) -> None:
    # A new deployment's predictions table has no statistics until autovacuum analyses it. Written as a join, the
    # batch's lookup of what is already scored then hashed a scan of the whole table: 11-24 ms per batch at
    # 20,000 predictions, most of Postgres' CPU at 2,000 transactions a second in POSTs of 50.
    positions = append_transactions(pg_engine, synthetic_rows(20_000, seed=25))
    with pg_engine.begin() as conn:
        ids = conn.execute(sa.text("SELECT transaction_id FROM events ORDER BY position")).scalars().all()
        insert_predictions(conn, [a_prediction(tx) for tx in ids])
        conn.execute(sa.text("DELETE FROM pg_statistic WHERE starelid = 'predictions'::regclass"))
        conn.execute(sa.text("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid = 'predictions'::regclass"))
    with pg_engine.connect() as conn:
        conn.execute(sa.text("ANALYZE events"))  # as after a history import (`bulk_load.refresh_statistics`)
        conn.commit()
        driver: Any = conn.connection.driver_connection
        driver.autocommit = True
        plan = "\n".join(row[0] for row in driver.execute(
            "EXPLAIN " + SCORED_AT, {"positions": positions[-50:]}).fetchall())
    assert "Seq Scan on predictions" not in plan and "predictions_pkey" in plan, plan


def a_prediction(transaction_id: str) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "model_version": 1, "position": 1, "champion": True, "score": 0.9,
            "threshold": 0.5, "features": {"amount": 1.0}, "event_time": MOMENT, "recorded_at": MOMENT,
            "scored_at": MOMENT, "environment_drift": None}


@pytest.mark.postgres
def test_a_failed_write_stores_nothing_and_hands_the_connection_back_as_it_came(pg_url: str) -> None:
    engine = create_engine(pg_url, poolclass=sa.pool.StaticPool)  # one connection: the one scoring used
    try:
        broken_alert = {"transaction_id": "tx-a", "card_id": "card-1", "score": 0.9, "threshold": 0.5,
                        "model_version": 1, "position": None, "created_at": MOMENT}  # position is NOT NULL
        with engine.connect() as conn:
            read_batch(conn, [], roles_after=0)  # as a batch reads before it writes
            with pytest.raises(StoreError, match="position"):
                write_batch(conn, [a_prediction("tx-a")], [broken_alert])
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and not driver.autocommit
            assert conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one() == 0
    finally:
        engine.dispose()


def test_role_changes_learned_out_of_order_give_the_table_read_in_order(sqlite_url: str) -> None:
    # Threads scoring at once each read the role changes after the table's `known_through` as they found it,
    # and learn them in whatever order they finish: the table must end as if read once, in order.
    changes = [RoleChange(3, 1, CHAMPION), RoleChange(7, 2, CHALLENGER), RoleChange(12, 2, CHAMPION)]
    in_order, out_of_order = (ModelRegistry(create_engine(sqlite_url), SECRET) for _ in range(2))
    in_order.learn_roles(changes, known_through=15)
    out_of_order.learn_roles(changes, known_through=15)  # the thread that read further finished first
    table = out_of_order.learn_roles(changes[:2], known_through=8)
    assert table.known_through == 15 and out_of_order.roles_known_through == 15
    assert [table.assignment_at(p) for p in range(1, 17)] == [
        in_order.assignments().assignment_at(p) for p in range(1, 17)]
