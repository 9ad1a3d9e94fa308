"""`fraudlog worker` supervises its processes; `fraudlog serve` gives uvicorn a patient health check.

The real thing (Dramatiq on RabbitMQ, a worker process SIGKILLed, scoring going on) is
`tests/integration/test_workers.py::test_a_worker_process_killed_with_sigkill_is_restarted_and_scoring_goes_on`;
here a stand-in child shows the supervision itself, in a second.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import timedelta

import pytest

from fraudlog.cli.serve import uvicorn_config
from fraudlog.config import ConfigError, Settings
from fraudlog.workers.supervisor import WorkerSupervisor, describe_exit
from tests.support.processes import wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_a_killed_child_is_restarted_and_the_supervisor_stays_up(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = WorkerSupervisor(SLEEPER, processes=2)
    thread = threading.Thread(target=supervisor.run, kwargs={"handle_signals": False})
    caplog.set_level(logging.WARNING, logger="fraudlog.worker")
    thread.start()
    try:
        wait_until(lambda: len(supervisor.pids) == 2, timeout=10, interval=0.05, message="two children")
        victim, survivor = supervisor.pids

        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(supervisor.pids) == 2 and victim not in supervisor.pids, timeout=10, interval=0.05,
                   message="the killed child replaced")

        assert thread.is_alive() and supervisor.restarts == 1
        assert survivor in supervisor.pids  # the other child was left alone
        assert any("was killed by SIGKILL" in r.getMessage() and "restarting it" in r.getMessage()
                   for r in caplog.records)
    finally:
        supervisor.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_exits_are_described_by_signal_name_or_code() -> None:
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(1) == "exited with code 1"


# A secret key, so parsing the settings never generates the embedded mode's secret file.
ENV = {"FRAUDLOG_SECRET_KEY": "supervision-test-key"}


def serve_args(workers: int = 2) -> argparse.Namespace:
    return argparse.Namespace(host="127.0.0.1", port=8000, workers=workers, log_level="WARNING")


def test_the_api_health_check_timeout_defaults_to_30_seconds_not_uvicorns_5() -> None:
    assert uvicorn_config(serve_args(), Settings.from_env(ENV)).timeout_worker_healthcheck == 30


def test_the_api_health_check_timeout_comes_from_the_environment() -> None:
    settings = Settings.from_env({**ENV, "FRAUDLOG_API_HEALTHCHECK_TIMEOUT": "75"})
    assert settings.api_healthcheck_timeout == timedelta(seconds=75)
    assert uvicorn_config(serve_args(), settings).timeout_worker_healthcheck == 75
    with pytest.raises(ConfigError, match="FRAUDLOG_API_HEALTHCHECK_TIMEOUT"):
        Settings.from_env({**ENV, "FRAUDLOG_API_HEALTHCHECK_TIMEOUT": "0"})


def test_each_worker_waits_ten_minutes_for_its_boot_before_dramatiq_starts_its_forks() -> None:
    """Dramatiq starts the forks a worker asked for (the metrics exporter) once it booted or after
    `--worker-fork-timeout`; with its default 30 s a slow boot got no exporter and no log line (issue 27 #14).
    Parsed by Dramatiq's own parser, so a misspelt option fails here, not on a host."""
    from dramatiq.cli import make_argument_parser

    from fraudlog.workers.supervisor import WORKER_BOOT_TIMEOUT_MS, dramatiq_command

    command = dramatiq_command(threads=2, queues=["fraudlog.score"])
    assert command[1:3] == ["-m", "fraudlog.workers.dramatiq_main"]  # Dramatiq's CLI with fraudlog's logging
    args = make_argument_parser().parse_args(command[3:])
    assert args.worker_fork_timeout == WORKER_BOOT_TIMEOUT_MS >= 600_000
    assert (args.processes, args.threads, args.queues) == (1, 2, ["fraudlog.score"])
