"""The observability settings: defaults that keep things private and off, overrides, malformed values refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fraudlog.config import ConfigError, ObservabilitySettings, Settings


def test_defaults_bind_the_worker_exporter_to_loopback_and_leave_tracing_off() -> None:
    observed = Settings.from_env({}).observability
    assert observed == ObservabilitySettings(worker_metrics_host="127.0.0.1", worker_metrics_port=9191,
                                             prometheus_multiproc_dir=None, tracing=False,
                                             latency_settle=timedelta(seconds=10))


def test_every_variable_is_read() -> None:
    observed = Settings.from_env({
        "FRAUDLOG_WORKER_METRICS_HOST": "0.0.0.0", "FRAUDLOG_WORKER_METRICS_PORT": "9300",
        "PROMETHEUS_MULTIPROC_DIR": "/run/fraudlog/prometheus", "FRAUDLOG_TRACING": "on",
        "FRAUDLOG_METRICS_LATENCY_SETTLE": "2.5s"}).observability
    assert observed == ObservabilitySettings("0.0.0.0", 9300, "/run/fraudlog/prometheus", True,
                                             timedelta(seconds=2.5))
    assert Settings.from_env({"FRAUDLOG_WORKER_METRICS_PORT": "0"}).observability.worker_metrics_port == 0


@pytest.mark.parametrize("name, value", [("FRAUDLOG_WORKER_METRICS_PORT", "http"),
                                         ("FRAUDLOG_WORKER_METRICS_PORT", "70000"),
                                         ("FRAUDLOG_TRACING", "maybe"),
                                         ("FRAUDLOG_METRICS_LATENCY_SETTLE", "-1")])
def test_a_malformed_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
