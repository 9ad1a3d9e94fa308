"""Rebuild: lose every table but the log, and everything comes back, from Postgres to SQLite and back."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.lifecycle.verification import verify_version
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import replay
from fraudlog.replay.rebuild import COPIED_TABLES, DERIVED_TABLES, REBUILT_MARKER, RebuildRefused, rebuild
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.outbox import SENT, claim_pending_alerts, mark_sent
from fraudlog.store.stats import model_quality, row_counts
from fraudlog.store.tables import alert_members, alerts, events, labels, metadata, model_versions, predictions
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.workload import build_workload

# Wall-clock columns: when a row was computed or delivered, which the log does not record.
WALL_CLOCK = {"predictions": {"scored_at"}, "alerts": {"created_at", "available_at"}}
DELIVERY_STATE = {"status", "attempts", "locked_until", "sent_at", "last_error"}


def rows_of(engine: Engine, table: sa.Table, ignore: Collection[str] = ()) -> list[dict[str, Any]]:
    key = list(table.primary_key.columns)
    with engine.connect() as conn:
        found = [dict(row) for row in conn.execute(sa.select(table).order_by(*key)).mappings()]
    for row in found:
        for column in ignore:
            row.pop(column, None)
        if table is alerts:
            # `transactions` is what a relay put in the message when it took it: delivery state too.
            row["payload"] = {k: v for k, v in row["payload"].items() if k not in ("created_at", "transactions")}
        if table is model_versions:
            row["artifact"] = bytes(row["artifact"])
    return found


def deliver_some(engine: Engine) -> None:
    """Give the source a delivery history that a rebuild must not carry over nor repeat."""
    claimed = claim_pending_alerts(engine, limit=5, visibility_timeout=timedelta(seconds=60))
    mark_sent(engine, [a.alert_id for a in claimed], datetime.now(UTC))


def assert_same_database(original: Engine, rebuilt: Engine) -> None:
    for table in (events, model_versions, labels):
        assert rows_of(rebuilt, table) == rows_of(original, table), table.name
    assert rows_of(rebuilt, predictions, WALL_CLOCK["predictions"]) == rows_of(
        original, predictions, WALL_CLOCK["predictions"])
    ignored = WALL_CLOCK["alerts"] | DELIVERY_STATE
    assert rows_of(rebuilt, alerts, ignored) == rows_of(original, alerts, ignored)
    # The same alerts cover the same transactions (invariant 19); which message carried each is delivery state.
    assert rows_of(rebuilt, alert_members, {"created_at", "message_id"}) == rows_of(
        original, alert_members, {"created_at", "message_id"})
    with rebuilt.connect() as conn:
        states = set(conn.execute(sa.select(alerts.c.status, alerts.c.last_error, alerts.c.sent_at)).all())
        rebuilt_quality = model_quality(conn)
    assert states == {(SENT, REBUILT_MARKER, None)}  # marked delivered, so the relay never sends them again
    with original.connect() as conn:
        assert rebuilt_quality == model_quality(conn)  # model metrics come back with the tables


def rebuild_and_compare(source: Engine, target_url: str) -> None:
    report = rebuild(source, target_url, SECRET)
    target = create_engine(target_url)
    try:
        assert report.events == EventLog(source).count() and report.predictions > report.transactions > 0
        assert_same_database(source, target)
        assert replay(target, ModelRegistry(target, SECRET)).reproduced
        for version in ModelRegistry(target, SECRET).list():  # retraining on the copy gives the same artifacts
            assert verify_version(ModelRegistry(target, SECRET), version.version).reproduced
        assert claim_pending_alerts(target, limit=100, visibility_timeout=timedelta(seconds=60)) == []
        # The copy continues the log: the next append takes the position after the last copied one.
        last = EventLog(target).last_position()
        [position] = append_transactions(target, synthetic_rows(1, seed=99))
        assert position == last + 1
    finally:
        target.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_rebuild_into_sqlite_from_a_postgres_log(pg_engine: Engine, sqlite_url: str) -> None:
    build_workload(pg_engine)
    deliver_some(pg_engine)
    rebuild_and_compare(pg_engine, sqlite_url)


@pytest.mark.slow
@pytest.mark.postgres
def test_rebuild_into_postgres_from_a_sqlite_log(sqlite_url: str, pg_url: str) -> None:
    source = create_engine(sqlite_url)
    build_workload(source)
    deliver_some(source)
    rebuild_and_compare(source, pg_url)
    source.dispose()


def test_rebuild_refuses_a_target_that_is_not_empty(engine: Engine, sqlite_url: str, tmp_path: Path) -> None:
    build_workload(engine, logreg_challenger=False)
    with pytest.raises(RebuildRefused, match="is not empty"):
        rebuild(engine, str(engine.url.render_as_string(hide_password=False)), SECRET)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    rebuild(engine, other, SECRET)
    with pytest.raises(RebuildRefused):
        rebuild(engine, other, SECRET)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_labels_appended_together_are_projected_together_whatever_the_chunk(engine: Engine, tmp_path: Path) -> None:
    """A correction inside one append counts differently from one across two appends, so the projection must
    see each append whole even when it straddles the rebuild's chunks."""
    build_workload(engine, logreg_challenger=False)
    target_url = f"sqlite:///{tmp_path / 'small-chunks.db'}"
    rebuild(engine, target_url, SECRET, chunk=7)
    target = create_engine(target_url)
    assert rows_of(target, labels) == rows_of(engine, labels)
    assert rows_of(target, predictions, WALL_CLOCK["predictions"]) == rows_of(
        engine, predictions, WALL_CLOCK["predictions"])
    target.dispose()


def test_every_table_is_either_copied_or_derived() -> None:
    """A new table must say how rebuild recreates it, or this fails."""
    assert set(metadata.tables) == set(COPIED_TABLES) | set(DERIVED_TABLES)


def test_rebuild_command_shows_what_it_rebuilt(engine: Engine, database_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    build_workload(engine, logreg_challenger=False)
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("FRAUDLOG_API_KEYS", "test:admin:test-key")
    target = tmp_path / "rebuilt.db"
    assert main(["rebuild", "--into", f"sqlite:///{target}"]) == 0
    out = capsys.readouterr().out
    assert "predictions (recomputed)" in out and f"{EventLog(engine).count():,}" in out
    assert main(["rebuild", "--into", f"sqlite:///{target}"]) == 1
    assert "is not empty" in capsys.readouterr().err


@pytest.mark.postgres
def test_a_row_the_target_cannot_hold_stops_the_rebuild_and_leaves_the_target_empty(
        sqlite_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An old SQLite log may hold an id of 128 characters and a newline (accepted before ids were matched
    whole): Postgres cannot store it. The rebuild must say so and write nothing, not stop half-way with a
    target that holds the first chunks and refuses every later attempt as "not empty"."""
    source = create_engine(sqlite_url)
    install_version(source)
    rows = synthetic_rows(300, seed=11)
    append_transactions(source, rows[:200])
    bad = {**rows[200][0], "transaction_id": "x" * 128 + "\n"}
    [bad_position] = append_transactions(source, [(bad, False)])
    append_transactions(source, rows[201:])
    assert bad_position > 3 * 50  # several chunks of 50 come before it

    with pytest.raises(RebuildRefused, match=f"position {bad_position} has a transaction_id of 129 characters"):
        rebuild(source, pg_url, SECRET, chunk=50)
    target = create_engine(pg_url)
    with target.connect() as conn:
        assert not any(row_counts(conn).values()), row_counts(conn)
    target.dispose()

    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("FRAUDLOG_API_KEYS", "test:admin:test-key")
    assert main(["rebuild", "--into", pg_url]) == 1
    err = capsys.readouterr().err
    assert f"position {bad_position}" in err and "No row was written" in err and "is not empty" not in err
    source.dispose()
