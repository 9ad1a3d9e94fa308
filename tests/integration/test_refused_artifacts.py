"""A tampered artifact whose bytes and SHA-256 were changed together (so only the HMAC catches it) is refused
once and clearly: the scorer records it and leaves its events waiting instead of failing, the sweeper does
not re-ring them, `/v1/predict` answers a problem, `/ready` says 503 and why, rebuild writes nothing, and a
real worker logs one line instead of retrying (issue 15, item 6)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.rebuild import rebuild
from fraudlog.scoring.scorer import Scorer
from fraudlog.scoring.sweeper import Sweeper
from fraudlog.store.engine import create_engine
from fraudlog.store.refusals import clear_refusal, record_refusal, refusals
from fraudlog.store.tables import predictions
from tests.support.api import api_client, served_api
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows, tamper_artifact
from tests.support.processes import REPO, kill, service_env, wait_until


def recorded_refusals(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {version: refusal.failed_check for version, refusal in refusals(conn).items()}


def prediction_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one())


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "HMAC check failed" in r.getMessage()]


def test_a_refused_champion_is_recorded_once_and_its_events_wait_unrung(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    version = install_version(engine)
    positions = append_transactions(engine, synthetic_rows(40, seed=31))
    tamper_artifact(engine, version, with_digest=True)
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))
    with caplog.at_level(logging.INFO):
        first, second = scorer.score_positions(positions[:20]), scorer.score_positions(positions[20:])
        assert (first.refused, second.refused, first.predictions + second.predictions) == (20, 20, 0)
        assert recorded_refusals(engine) == {version: "HMAC"}
        assert len(refusal_lines(caplog)) == 1, "one clear line per process, not one per batch"

        sweeper = Sweeper(engine, ModelRegistry(engine, SECRET))
        later = datetime.now(UTC) + timedelta(seconds=1)
        assert sweeper.find_unscored(grace=timedelta(0), now=later) == []
        assert sweeper.find_unscored(grace=timedelta(0), now=later) == []
    passed = [r.getMessage() for r in caplog.records if r.name == "fraudlog.sweeper"]
    assert len(passed) == 1 and f"model version {version}" in passed[0], passed
    assert prediction_count(engine) == 0


def test_a_refused_challenger_is_skipped_and_the_champion_still_scores(engine: Engine) -> None:
    install_version(engine)
    challenger = install_version(engine, promote=False)
    tamper_artifact(engine, challenger, with_digest=True)
    positions = append_transactions(engine, synthetic_rows(30, seed=32))
    assert ModelRegistry(engine, SECRET).assignments().current().challengers == (challenger,)
    report = Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(positions)
    assert (report.predictions, report.refused) == (30, 0)
    assert recorded_refusals(engine) == {challenger: "HMAC"}


def test_a_process_whose_key_verifies_the_artifact_clears_a_refusal(engine: Engine) -> None:
    """A worker started with the wrong key refuses every version; one with the right key undoes that."""
    version = install_version(engine)
    positions = append_transactions(engine, synthetic_rows(10, seed=33))
    wrong_key = Scorer(engine, ModelRegistry(engine, b"not-the-deployment-key"))
    assert wrong_key.score_positions(positions).refused == 10
    assert recorded_refusals(engine) == {version: "HMAC"}
    assert Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(positions).predictions == 10
    assert recorded_refusals(engine) == {}


def test_the_sweeper_looks_again_at_passed_events_once_their_refusal_is_cleared(engine: Engine) -> None:
    version = install_version(engine)
    positions = append_transactions(engine, synthetic_rows(10, seed=37))
    assert Scorer(engine, ModelRegistry(engine, b"not-the-deployment-key")).score_positions(positions).refused == 10
    sweeper = Sweeper(engine, ModelRegistry(engine, SECRET))
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert sweeper.find_unscored(grace=timedelta(0), now=later) == []  # passed: their champion is refused
    assert clear_refusal(engine, version)  # what a worker whose key verifies the artifact does
    assert sweeper.find_unscored(grace=timedelta(0), now=later) == positions


def test_predict_and_ready_refuse_a_tampered_champion_with_a_problem(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with api_client(settings) as client:
        version = install_version(services_of(client.app).engine)
        tamper_artifact(services_of(client.app).engine, version, with_digest=True)
        body = {"transaction": synthetic_rows(1, seed=34)[0][0]}
        answer = client.post("/v1/predict", json=body)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert f"model version {version}" in answer.json()["detail"] and "HMAC" in answer.json()["detail"]
        ready = client.get("/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["champion"].startswith(f"model version {version} unusable")


def test_ready_reports_a_refusal_recorded_by_a_worker(sqlite_url: str) -> None:
    """The API verified the champion before it was tampered with; a worker's refusal still reaches /ready."""
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with api_client(settings) as client:
        engine = services_of(client.app).engine
        version = install_version(engine)
        assert client.get("/ready").json()["checks"] == {"database": "ok", "champion": "ok"}
        record_refusal(engine, ArtifactRejected(version, "HMAC", "recorded by a worker"))
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "recorded by a worker" in ready.json()["checks"]["champion"]


def test_rebuild_verifies_every_artifact_before_writing_anything(engine: Engine, tmp_path: Path) -> None:
    version = install_version(engine)
    append_transactions(engine, synthetic_rows(20, seed=35))
    tamper_artifact(engine, version, with_digest=True)
    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    with pytest.raises(ArtifactRejected, match=f"model version {version}: artifact HMAC check failed"):
        rebuild(engine, target_url, SECRET)
    target = create_engine(target_url)
    try:
        assert sa.inspect(target).get_table_names() == [], "nothing may be written before the artifacts verify"
    finally:
        target.dispose()


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_a_worker_process_logs_one_refusal_and_does_not_retry(
        pg_url: str, pg_engine: Engine, rabbitmq_url: str, tmp_path: Path) -> None:
    version = install_version(pg_engine)
    tamper_artifact(pg_engine, version, with_digest=True)
    settings = Settings(database_url=pg_url, broker_url=rabbitmq_url, secret_key=SECRET, alert_sink="memory://",
                        queue_prefix=os.environ["FRAUDLOG_QUEUE_PREFIX"])
    log_path = tmp_path / "worker.log"
    with served_api(settings, background=True) as url, log_path.open("wb") as log:
        with httpx.Client(base_url=url, timeout=60) as client:
            for start in range(0, 300, 50):  # several doorbells, so several messages meet the refusal
                rows = synthetic_rows(300, seed=36)[start : start + 50]
                assert client.post("/v1/transactions", json=[body for body, _ in rows]).status_code == 202
        process = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "fraudlog.workers.actors", "--processes", "1", "--threads", "2"],
            cwd=REPO, env=service_env(pg_url, rabbitmq_url), start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_until(lambda: recorded_refusals(pg_engine) == {version: "HMAC"}, message="the recorded refusal")
            time.sleep(3)  # retries back off from 200 ms: long enough for any to show in the log
        finally:
            kill(process)
    text = log_path.read_text(errors="replace")
    assert text.count("HMAC check failed") == 1, text[-4000:]
    assert "Retrying message" not in text and "Traceback" not in text, text[-4000:]
    assert prediction_count(pg_engine) == 0


def test_every_api_process_answers_ready_alike_after_the_champion_is_tampered(sqlite_url: str) -> None:
    """Issue 27 #7: an API process that verified the champion before the tamper kept answering 200 while one
    that verified it after answered 503, so `/ready` behind a load balancer flapped until a worker restarted."""
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with api_client(settings) as first, api_client(settings) as second:
        engine = services_of(first.app).engine
        version = install_version(engine)
        assert first.get("/ready").status_code == 200  # verified, before the tamper
        tamper_artifact(engine, version, with_digest=True)
        assert second.get("/ready").status_code == 503  # verifies it now: refused
        ready = first.get("/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["champion"].startswith(f"model version {version} unusable")


def test_ready_verifies_the_champion_again_after_a_while(sqlite_url: str) -> None:
    """Even a lone API process notices a tampered champion within `VERDICT_TTL`, without a worker's help."""
    from fraudlog.api.readiness import VERDICT_TTL, ChampionCheck

    engine = create_engine(sqlite_url)
    try:
        version = install_version(engine)
        registry = ModelRegistry(engine, SECRET)
        now = [0.0]
        check = ChampionCheck(clock=lambda: now[0])
        assert check(registry) == "ok"
        tamper_artifact(engine, version, with_digest=True)
        assert check(registry) == "ok"  # the verdict is kept a while: /ready is polled often
        now[0] += VERDICT_TTL.total_seconds() + 1
        assert (check(registry) or "").startswith(f"model version {version} unusable")
        assert version in recorded_refusals(engine)  # and every other process now says so too
    finally:
        engine.dispose()
