"""The Python client and the commands built on it: the stream iterator survives a server restart; `fraudlog
tail` follows the feed; client commands take FRAUDLOG_API_KEY and fail in one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from fraudlog.api.server import free_port, serve_in_thread
from fraudlog.client import ClientError, FraudlogClient, VersionPrediction
from fraudlog.config import ApiKey, Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from tests.support.api import build_app
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import REPO, wait_until

KEY = "analyst-key"


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url, secret_key=SECRET, api_keys=(ApiKey("reader", "analyst", KEY),))


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_engine(settings.database_url)
    install_version(engine)
    yield engine
    engine.dispose()


def score_more(engine: Engine, n: int, seed: int) -> list[int]:
    positions = append_transactions(engine, synthetic_rows(n, seed=seed))
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(positions)
    return positions


def test_the_stream_iterator_resumes_by_itself_across_a_server_restart(settings: Settings, engine: Engine) -> None:
    port = free_port()
    received: list[int] = []
    client = FraudlogClient(f"http://127.0.0.1:{port}", api_key=KEY)

    def consume() -> None:
        for item in client.follow("0", retry_seconds=0.1, max_retry_seconds=0.5):
            received.append(item.position)

    expected: list[int] = []
    with serve_in_thread(build_app(settings), port=port):
        threading.Thread(target=consume, daemon=True).start()
        expected += score_more(engine, 50, seed=61)
        wait_until(lambda: received == expected, timeout=30, message="the first predictions")
    expected += score_more(engine, 50, seed=62)  # scored while no server runs
    with serve_in_thread(build_app(settings), port=port):
        expected += score_more(engine, 50, seed=63)
        wait_until(lambda: len(received) >= len(expected), timeout=30, message="the stream to resume")
    assert received == expected


def fraudlog(*args: str, api_key: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FRAUDLOG_API_KEY"}
    if api_key is not None:
        env["FRAUDLOG_API_KEY"] = api_key
    return subprocess.run([sys.executable, "-m", "fraudlog.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_tail_prints_the_feed_as_json_lines_with_the_key_from_the_environment(
        settings: Settings, engine: Engine) -> None:
    positions = score_more(engine, 20, seed=64)
    with serve_in_thread(build_app(settings)) as url:
        proc = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", "tail", "--url", url, "--from", "0", "--json"],
                                cwd=REPO, env={**os.environ, "FRAUDLOG_API_KEY": KEY},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in positions]
        finally:
            proc.kill()
            proc.wait()
    items = [json.loads(line) for line in lines]
    assert [i["position"] for i in items] == positions and all(i["champion"] for i in items)


@pytest.mark.parametrize(("key", "expected"), [(None, "401"), ("wrong-key", "401")])
def test_client_commands_refused_by_the_server_fail_in_one_line(
        settings: Settings, engine: Engine, creditcard_csv: Path, key: str | None, expected: str) -> None:
    with serve_in_thread(build_app(settings)) as url:
        simulate = ("simulate", "--csv", str(creditcard_csv), "--url", url, "--rows", "1")
        for args in (("tail", "--url", url, "--from", "0"), simulate):
            result = fraudlog(*args, api_key=key)
            assert result.returncode == 1, result
            assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr, result.stderr
            assert "Traceback" not in result.stderr


def test_client_commands_fail_in_one_line_when_nothing_listens(creditcard_csv: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    simulate = ("simulate", "--csv", str(creditcard_csv), "--url", url, "--rows", "1")
    for args in (("tail", "--url", url, "--retry-for", "0.5"), simulate):
        result = fraudlog(*args, api_key=KEY)
        assert result.returncode == 1, result
        assert len(result.stderr.strip().splitlines()) == 1 and url in result.stderr, result.stderr


def test_client_errors_carry_the_problem_in_one_line(settings: Settings, engine: Engine) -> None:
    with serve_in_thread(build_app(settings)) as url, FraudlogClient(url, api_key=KEY) as client:
        with pytest.raises(ClientError, match=r"404 Unknown model version: model version 99 does not exist"):
            client.compare(synthetic_rows(1, seed=65)[0][0], [1, 99])
        rows: list[VersionPrediction] = client.compare(synthetic_rows(1, seed=65)[0][0])
        assert [r.model_version for r in rows] == [1]
        page = client.predictions(after="0", alerts=True)
        assert page.items == [] and int(page.next_cursor) > 0
