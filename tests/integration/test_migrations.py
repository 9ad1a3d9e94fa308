"""Migrations go up and down cleanly on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.store import migrate

TABLES = {"events", "model_versions", "predictions", "labels", "alerts", "model_version_refusals"}


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    assert migrate.current_revision(engine) == "0005" and tables(engine) >= TABLES
    migrate.downgrade(engine, "0004_environment_drift")  # 0005 takes away only the refusals table
    assert tables(engine) == TABLES - {"model_version_refusals"}
    migrate.upgrade(engine)
    assert "model_version_refusals" in tables(engine)
    migrate.downgrade(engine, "0001")
    assert tables(engine) == {"events"}
    migrate.downgrade(engine, "base")
    assert tables(engine) == set() and migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == "0005" and tables(engine) >= TABLES
    with engine.connect() as conn:  # the guard triggers came back with the table
        triggers = conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal" if engine.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars().all()
    assert any("events" in name for name in triggers)
