"""The chaos run in a bounded form: 20 seconds of traffic while processes, RabbitMQ and Postgres fail.

It restarts the machine's Postgres and RabbitMQ, so it runs where that is acceptable (CI, a developer's
machine with `docker compose up` or local services) and needs `pg_ctlcluster` and `rabbitmqctl`.
The full run is `python -m tests.chaos.chaos_run --seconds 60`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.support.processes import REPO
from tests.support.services import require_service

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.exclusive]

SECONDS = os.environ.get("FRAUDLOG_CHAOS_SECONDS", "20")


def test_chaos_run_loses_nothing_and_delivers_every_alert_once() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("RabbitMQ", "127.0.0.1", 5672)
    missing = [tool for tool in ("pg_ctlcluster", "pg_isready", "rabbitmqctl") if shutil.which(tool) is None]
    if missing:
        message = f"the chaos run restarts local services and needs {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    run = subprocess.Popen([sys.executable, "-m", "tests.chaos.chaos_run", "--seconds", SECONDS], cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = run.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGTERM)  # not SIGKILL: the run must bring the services back and kill its children
        stdout, stderr = run.communicate(timeout=180)
    print(stdout)  # the timeline and the table of checks, shown by pytest when the test fails
    assert run.returncode == 0, stdout[-8000:] + stderr[-4000:]
