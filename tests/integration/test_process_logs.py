"""One log format per process (issue 31): with JSON logs, every line `fraudlog worker` writes is a JSON object,
Dramatiq's own lines from its parent, worker and fork processes included; `fraudlog scheduler` says once what
it schedules and APScheduler's per-run INFO lines stay out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from fraudlog.api.server import free_port
from tests.support.processes import REPO, kill, log_file, service_env, wait_until


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of the log as a JSON object; a line that is not one fails the test, naming it."""
    parsed = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


def loggers(path: Path) -> set[str]:
    try:
        return {record["logger"] for record in records(path)}
    except AssertionError:
        return set()


def run(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    logs = log_file(command[0])
    process = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", *command], cwd=REPO, env=env,
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=logs)
    return process, Path(logs.name)


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_every_line_of_a_worker_is_json_dramatiqs_own_included(pg_url: str, rabbitmq_url: str) -> None:
    env = service_env(pg_url, rabbitmq_url, FRAUDLOG_LOG_FORMAT="json",
                      FRAUDLOG_QUEUE_PREFIX=f"fraudlog-logs-{uuid.uuid4().hex[:8]}",
                      FRAUDLOG_WORKER_METRICS_PORT=str(free_port()))
    supervisor, path = run(["worker", "--processes", "1", "--threads", "1"], env)
    wanted = {"fraudlog.worker", "dramatiq.MainProcess", "dramatiq.WorkerProcess(0)", "dramatiq.ForkProcess(0)",
              "fraudlog.worker.metrics"}
    try:
        wait_until(lambda: wanted <= loggers(path), timeout=90, message=f"{sorted(wanted)} in {path}")
    finally:
        supervisor.send_signal(signal.SIGTERM)  # a graceful stop: Dramatiq logs its shutdown too
        try:
            supervisor.wait(timeout=60)
        finally:
            kill(supervisor)
    shutdown = {record["message"] for record in records(path)}  # every line, the last ones included, is JSON
    assert "Worker has been shut down." in shutdown, shutdown


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_the_scheduler_logs_its_schedule_once_and_no_line_per_run(pg_url: str, rabbitmq_url: str) -> None:
    env = service_env(pg_url, rabbitmq_url, FRAUDLOG_LOG_FORMAT="json",
                      FRAUDLOG_QUEUE_PREFIX=f"fraudlog-logs-{uuid.uuid4().hex[:8]}")
    scheduler, path = run(["scheduler"], env)
    try:
        wait_until(lambda: "fraudlog.scheduler" in loggers(path), timeout=60, message="the schedule logged")
        time.sleep(11)  # two runs of the 5 s jobs, one of the 10 s ones
        assert scheduler.poll() is None, path.read_text()[-2_000:]
    finally:
        kill(scheduler, signal.SIGTERM)
    logged = records(path)
    assert not [r for r in logged if r["logger"].startswith("apscheduler")], logged
    [schedule] = [r for r in logged if r["message"].startswith("scheduling ")]
    assert "deliver_alerts every 5 s" in schedule["message"] and "sweep" in schedule["jobs"], schedule
