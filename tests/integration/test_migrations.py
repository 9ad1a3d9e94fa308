"""Migrations go up and down cleanly on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.store import migrate

TABLES = {"events", "model_versions", "predictions", "labels", "alerts", "model_version_refusals", "drift_detections",
          "scoring_failures", "alert_members"}
HEAD = "0011_suppressions"


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    assert migrate.current_revision(engine) == HEAD and tables(engine) >= TABLES
    migrate.downgrade(engine, "0009_coalesce")  # 0010 takes away the labels' source
    assert "source" not in {c["name"] for c in sa.inspect(engine).get_columns("labels")}
    migrate.downgrade(engine, "0008_explain_reasons")  # 0009 takes away only the alerts' members
    assert tables(engine) == TABLES - {"alert_members"}
    migrate.downgrade(engine, "0007_poison")  # 0008 takes away only the predictions' reasons
    assert "reasons" not in {c["name"] for c in sa.inspect(engine).get_columns("predictions")}
    migrate.downgrade(engine, "0006")  # 0007 takes away only the scoring failures
    assert tables(engine) == TABLES - {"scoring_failures", "alert_members"}
    migrate.downgrade(engine, "0005")  # 0006 takes away the detections and the trigger column
    assert tables(engine) == TABLES - {"scoring_failures", "drift_detections", "alert_members"}
    assert "trigger" not in {c["name"] for c in sa.inspect(engine).get_columns("model_versions")}
    migrate.downgrade(engine, "0004_environment_drift")  # 0005 takes away only the refusals table
    assert tables(engine) == TABLES - {"model_version_refusals", "drift_detections", "scoring_failures",
                                                        "alert_members"}
    migrate.upgrade(engine)
    assert "model_version_refusals" in tables(engine)
    migrate.downgrade(engine, "0001")
    assert tables(engine) == {"events"}
    migrate.downgrade(engine, "base")
    assert tables(engine) == set() and migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD and tables(engine) >= TABLES
    with engine.connect() as conn:  # the guard triggers came back with the table
        triggers = conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal" if engine.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars().all()
    assert any("events" in name for name in triggers)


def test_the_log_admits_drift_detections_from_0006_only(engine: Engine) -> None:
    insert = sa.text("INSERT INTO events (event_type, recorded_at, digest, payload) "
                     "VALUES ('drift_detection', CURRENT_TIMESTAMP, 'd', '{}')")
    migrate.downgrade(engine, "0005")
    try:
        with engine.begin() as conn:
            conn.execute(insert)
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("0005's log accepted a drift_detection event")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert)
