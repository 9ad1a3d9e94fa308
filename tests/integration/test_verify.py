"""`fraudlog models verify`: a version retrained from its lineage gives the recorded artifact, or a clear report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.lifecycle.retraining import retrain
from fraudlog.lifecycle.verification import verify_version
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.tables import model_versions
from tests.support.event_log import append_labels, append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows


def retrained_version(engine: Engine, model: str = "hst") -> int:
    """Version 1 trained on imported history, then a child retrained on a labelled stretch of the log."""
    install_version(engine, model=model)
    registry = ModelRegistry(engine, SECRET)
    rows = synthetic_rows(600, seed=64, cards=25)
    Scorer(engine, registry).score_positions(append_transactions(engine, rows))
    append_labels(engine, rows[:500])
    result = retrain(registry)
    assert result is not None
    return result.version


def superuser_update(engine: Engine, version: int, **values: Any) -> None:
    """Change an immutable version row as only a superuser could: by dropping its guard trigger first."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE model_versions DISABLE TRIGGER model_versions_immutable")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS model_versions_no_update")
        conn.execute(sa.update(model_versions).where(model_versions.c.version == version).values(**values))


def checks(report: Any) -> dict[str, bool]:
    return {check.name: check.ok for check in report.checks}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("FRAUDLOG_API_KEYS", "test:admin:test-key")


@pytest.mark.parametrize("model", ["hst", "logreg"])
def test_a_retrained_version_is_reproduced_from_its_lineage(engine: Engine, model: str, cli_env: None,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    version = retrained_version(engine, model)
    report = verify_version(ModelRegistry(engine, SECRET), version)
    assert report.reproduced and report.method == "log" and all(checks(report).values()), report.lines()
    assert main(["models", "verify", str(version)]) == 0
    assert f"model version {version}: reproduced" in capsys.readouterr().out


def test_a_tampered_training_range_fails_with_a_clear_report(engine: Engine, cli_env: None,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    version = retrained_version(engine)
    data = ModelRegistry(engine, SECRET).get(version).training_data
    moved = {"last_position": data.last_position - 700, "label_cut": data.label_cut - 700}  # 200 fewer
    superuser_update(engine, version, training_data={**msgspec.to_builtins(data), **moved})
    report = verify_version(ModelRegistry(engine, SECRET), version)
    assert not report.reproduced
    assert checks(report) == {"stored artifact matches its SHA-256 and HMAC": True,
                              "training window (log positions)": True, "training data SHA-256": False,
                              "events and labels learned": False, "artifact SHA-256": False, "threshold": False}
    assert any("do not hash to the digest lineage recorded" in note for note in report.notes)
    assert main(["models", "verify", str(version)]) == 1
    out = capsys.readouterr().out
    assert f"model version {version}: NOT reproduced" in out and "[FAIL] artifact SHA-256" in out


def test_a_tampered_window_start_is_caught_though_the_cut_is_intact(engine: Engine) -> None:
    # The cut decides what is retrained; a lineage that claims another window start must still fail.
    version = retrained_version(engine)
    data = ModelRegistry(engine, SECRET).get(version).training_data
    superuser_update(engine, version,
                     training_data={**msgspec.to_builtins(data), "first_position": data.first_position + 50})
    report = verify_version(ModelRegistry(engine, SECRET), version)
    assert not report.reproduced
    assert checks(report)["training window (log positions)"] is False
    assert checks(report)["artifact SHA-256"] is True


def test_a_tampered_artifact_fails_and_the_report_says_the_lineage_is_intact(engine: Engine) -> None:
    version = retrained_version(engine)
    with engine.connect() as conn:
        blob = bytearray(conn.execute(sa.select(model_versions.c.artifact)
                                      .where(model_versions.c.version == version)).scalar_one())
    blob[len(blob) // 3] ^= 0x01
    superuser_update(engine, version, artifact=bytes(blob))
    report = verify_version(ModelRegistry(engine, SECRET), version)
    assert not report.reproduced
    assert checks(report)["stored artifact matches its SHA-256 and HMAC"] is False
    assert checks(report)["artifact SHA-256"] is True  # retraining still gives what lineage recorded
    assert any("the lineage is intact and the stored blob is not" in note for note in report.notes)


def test_a_different_river_version_is_named_when_the_artifact_differs(engine: Engine) -> None:
    version = retrained_version(engine)
    record = ModelRegistry(engine, SECRET).get(version)
    # As if another river had trained it: other bytes (and so another SHA-256), its version in lineage.
    superuser_update(engine, version, environment={**record.environment, "river": "0.19.0"},
                     artifact_sha256="0" * 64)
    report = verify_version(ModelRegistry(engine, SECRET), version)
    assert not report.reproduced and checks(report)["training data SHA-256"] is True
    assert report.environment["river"] == {"trained": "0.19.0", "here": record.environment["river"]}
    assert f"river 0.19.0 then, {record.environment['river']} here" in report.lines()[1]  # first, before the checks


def test_a_first_version_is_reproduced_from_its_imported_history(
        engine: Engine, cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    install_version(engine)
    report = verify_version(ModelRegistry(engine, SECRET), 1)
    assert report.reproduced and report.method == "log", report.lines()
    assert main(["models", "verify", "1"]) == 0
    assert "model version 1: reproduced" in capsys.readouterr().out
    assert main(["models", "verify", "7"]) == 1
    assert "model version 7 does not exist" in capsys.readouterr().err


def test_a_version_trained_outside_the_log_is_reported_as_not_retrainable(engine: Engine) -> None:
    install_version(engine)
    data = ModelRegistry(engine, SECRET).get(1).training_data
    superuser_update(engine, 1, training_data={**msgspec.to_builtins(data), "source": "csv:creditcard.csv",
                                               "label_cut": None})
    report = verify_version(ModelRegistry(engine, SECRET), 1)
    assert not report.reproduced and report.method == "none"
    assert "an earlier training method from 'csv:creditcard.csv'" in report.notes[-1]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_version_trained_from_a_csv_is_reproduced_from_the_log(
        engine: Engine, creditcard_csv: Path, cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--csv", str(creditcard_csv), "--rows", "800", "--cards", "50"]) == 0
    report = verify_version(ModelRegistry(engine, SECRET), 1)
    assert report.reproduced and report.method == "log", report.lines()
    assert main(["models", "verify", "1"]) == 0
    assert "model version 1: reproduced" in capsys.readouterr().out
