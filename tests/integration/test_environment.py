"""Environment in lineage, enforced: a worker refuses a version trained under other minor versions of river,
numpy or scipy, unless the operator allows it (then every prediction records the difference); replay and
`models verify` report the difference first. The recorded environment is forged at registration, as a row
written by a deployment with other libraries would be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.config import Settings
from fraudlog.domain.assignment import CHAMPION
from fraudlog.domain.records import Decision
from fraudlog.lifecycle.roles import assign_role
from fraudlog.lifecycle.versions import train_version
from fraudlog.ml.environment import EnvironmentMismatch, current
from fraudlog.ml.specs import spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.event_log import EventLog
from fraudlog.store.tables import predictions
from tests.support.api import served_api
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import REPO, kill, service_env, wait_until

HERE = current()
_MAJOR, _MINOR = HERE["numpy"].split(".")[:2]
OLD_NUMPY = f"{_MAJOR}.{int(_MINOR) + 1}.0"  # the same major release: only the minor differs


def forged_champion(engine: Engine, **recorded: str) -> int:
    """A champion whose lineage says it was trained with `recorded` library versions."""
    install_version(engine)
    registry = ModelRegistry(engine, SECRET)
    trained = train_version(engine, SECRET, spec_for("hst", n_trees=10, height=8, window_size=100),
                            cut=EventLog(engine).last_position(), parent=1)
    lineage = msgspec.structs.replace(trained.lineage, environment={**trained.lineage.environment, **recorded})
    version = registry.versions.add(msgspec.structs.replace(trained, lineage=lineage))
    assign_role(registry, version, CHAMPION, Decision(kind="manual", action="promote", reason="test"))
    return version


def stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(predictions.c.model_version,
                                                        predictions.c.environment_drift)).mappings()]


def test_a_worker_refuses_a_version_from_another_numpy_minor_naming_it(engine: Engine) -> None:
    version = forged_champion(engine, numpy=OLD_NUMPY)
    positions = append_transactions(engine, synthetic_rows(50, seed=5))
    with pytest.raises(EnvironmentMismatch) as refused:
        Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(positions)
    message = str(refused.value)
    assert f"model version {version}" in message and f"numpy {OLD_NUMPY} then, {HERE['numpy']} here" in message
    assert "river" not in message.split("(")[1] and "FRAUDLOG_ALLOW_ENVIRONMENT_DRIFT=1" in message
    assert stored(engine) == []  # refused before anything was written


def test_an_allowed_difference_is_recorded_with_every_prediction(engine: Engine) -> None:
    old_river = "0.1.0"
    version = forged_champion(engine, numpy=OLD_NUMPY, river=old_river)
    positions = append_transactions(engine, synthetic_rows(50, seed=5))
    report = Scorer(engine, ModelRegistry(engine, SECRET), allow_environment_drift=True).score_positions(positions)
    assert report.predictions == 50
    drift = {"numpy": {"trained": OLD_NUMPY, "here": HERE["numpy"]},
             "river": {"trained": old_river, "here": HERE["river"]}}
    assert stored(engine) == [{"model_version": version, "environment_drift": drift}] * 50


def test_patch_releases_and_python_or_cloudpickle_differences_are_scored_as_trained(engine: Engine) -> None:
    major, minor = HERE["scipy"].split(".")[:2]
    forged_champion(engine, scipy=f"{major}.{minor}.999", python="3.0.0", cloudpickle="0.1")
    positions = append_transactions(engine, synthetic_rows(20, seed=6))
    assert Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(positions).predictions == 20
    assert {row["environment_drift"] for row in stored(engine)} == {None}


def test_replay_and_verify_report_the_difference_first(engine: Engine, database_url: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    version = forged_champion(engine, numpy=OLD_NUMPY)
    Scorer(engine, ModelRegistry(engine, SECRET), allow_environment_drift=True).score_positions(
        append_transactions(engine, synthetic_rows(30, seed=7)))
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    expected = f"numpy {OLD_NUMPY} then, {HERE['numpy']} here"
    assert main(["replay"]) == 0  # the scores still reproduce here; the difference is said first
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"environment: model version {version}") and expected in first
    main(["models", "verify", str(version)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"model version {version}:") and expected in lines[1]


@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.slow
def test_a_worker_process_refuses_until_the_operator_allows_it(pg_engine: Engine, pg_url: str,
                                                               rabbitmq_url: str, tmp_path: Path) -> None:
    version = forged_champion(pg_engine, numpy=OLD_NUMPY)
    settings = Settings(database_url=pg_url, broker_url=rabbitmq_url, secret_key=SECRET, alert_sink="memory://",
                        queue_prefix=os.environ["FRAUDLOG_QUEUE_PREFIX"])
    refused_log = tmp_path / "worker.log"
    with served_api(settings, background=True) as url:
        refusing = worker_logging_to(refused_log, pg_url, rabbitmq_url)
        try:
            response = httpx.post(f"{url}/v1/transactions",
                                  json=[body for body, _ in synthetic_rows(40, seed=8)], timeout=30)
            assert response.status_code == 202
            wait_until(lambda: f"refusing to score with model version {version}" in refused_log.read_text(),
                       timeout=60, message="the worker's refusal in its log")
        finally:
            kill(refusing)
        assert stored(pg_engine) == []
        # The same events, once the operator allows it: the sweeper rings them again at the worker's start.
        allowed = worker_logging_to(tmp_path / "allowed.log", pg_url, rabbitmq_url,
                                    FRAUDLOG_ALLOW_ENVIRONMENT_DRIFT="1")
        try:
            wait_until(lambda: len(stored(pg_engine)) == 40, timeout=90, message="scored once allowed")
        finally:
            kill(allowed)
    assert {str(row["environment_drift"]["numpy"]["trained"]) for row in stored(pg_engine)} == {OLD_NUMPY}


def worker_logging_to(path: Path, pg_url: str, broker_url: str, **extra: str) -> subprocess.Popen[bytes]:
    """A `dramatiq fraudlog.workers.actors` process in its own process group, its log in `path`."""
    with path.open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "dramatiq", "fraudlog.workers.actors", "--processes", "1",
                                 "--threads", "2"], cwd=REPO, env=service_env(pg_url, broker_url, **extra),
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=log)
