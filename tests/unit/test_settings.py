"""Settings: one parse of the environment, and each process kind asks only for what it needs."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from fraudlog.cli import main
from fraudlog.config import API_KEYS, SECRET_KEY, ConfigError, Settings
from fraudlog.domain.validation import Limits

POSTGRES = "postgresql://postgres@127.0.0.1:5432/fraudlog"


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with no FRAUDLOG_* variable, as on a fresh production host."""
    for name in list(os.environ):
        if name.startswith("FRAUDLOG_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_from_env_parses_what_is_set_and_demands_nothing() -> None:
    settings = Settings.from_env({"FRAUDLOG_DATABASE_URL": POSTGRES, "FRAUDLOG_BROKER_URL": "amqp://h/"})
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/fraudlog"
    assert (settings.secret_key, settings.api_keys, settings.embedded) == (b"", (), False)


def test_from_env_reads_every_documented_variable() -> None:
    settings = Settings.from_env({
        "FRAUDLOG_DATABASE_URL": POSTGRES, "FRAUDLOG_SECRET_KEY": "s3cret", "FRAUDLOG_SWEEP_GRACE": "2.5",
        "FRAUDLOG_QUEUE_PREFIX": "blue", "FRAUDLOG_MAX_ATTRIBUTES": "300", "FRAUDLOG_MAX_ATTRIBUTE_NAME": "80",
        "FRAUDLOG_ALERT_MAX_ATTEMPTS": "3", "FRAUDLOG_WEBHOOK_SECRET": "hook", "FRAUDLOG_GIT_COMMIT": "0123abc",
        "FRAUDLOG_DOORBELL_INTERVAL": "0.05"})
    assert settings.sweep_grace == timedelta(seconds=2.5)
    assert settings.doorbell_interval == timedelta(milliseconds=50)
    assert settings.queue_prefix == "blue"
    assert settings.limits == Limits(max_attributes=300, max_attribute_name=80)
    assert settings.relay.max_attempts == 3
    assert (settings.webhook_secret, settings.git_commit) == (b"hook", "0123abc")


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings.from_env({"FRAUDLOG_DATABASE_URL": POSTGRES})
    assert settings.sweep_grace == timedelta(seconds=5)
    assert settings.doorbell_interval == timedelta(milliseconds=20)
    assert settings.queue_prefix == "fraudlog"
    assert settings.limits == Limits(max_attributes=256, max_attribute_name=64)
    assert settings.git_commit is None


def test_malformed_values_are_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="FRAUDLOG_BROKER_URL"):
        Settings.from_env({"FRAUDLOG_BROKER_URL": "kafka://x"})
    with pytest.raises(ConfigError, match="FRAUDLOG_API_KEYS"):
        Settings.from_env({"FRAUDLOG_DATABASE_URL": POSTGRES, "FRAUDLOG_API_KEYS": "loader:root:k"})
    with pytest.raises(ConfigError, match="FRAUDLOG_ALERT_TIMEOUT"):
        Settings.from_env({"FRAUDLOG_ALERT_TIMEOUT": "60"})
    with pytest.raises(ConfigError, match="FRAUDLOG_DOORBELL_INTERVAL"):
        Settings.from_env({"FRAUDLOG_DOORBELL_INTERVAL": "0"})


def test_require_names_what_is_missing_outside_embedded_mode() -> None:
    settings = Settings.from_env({"FRAUDLOG_DATABASE_URL": POSTGRES})
    with pytest.raises(ConfigError, match="FRAUDLOG_SECRET_KEY is required"):
        settings.require(SECRET_KEY)
    keyed = Settings.from_env({"FRAUDLOG_DATABASE_URL": POSTGRES, "FRAUDLOG_SECRET_KEY": "s3cret"})
    assert keyed.require(SECRET_KEY) is keyed
    with pytest.raises(ConfigError, match="FRAUDLOG_API_KEYS is required"):
        keyed.require(API_KEYS)
    with pytest.raises(ConfigError, match="FRAUDLOG_API_KEYS is required"):
        keyed.require_for_api()


def test_embedded_mode_needs_no_secret_or_keys() -> None:
    settings = Settings.from_env({"FRAUDLOG_DATABASE_URL": "sqlite://", "FRAUDLOG_BROKER_URL": "memory://"})
    assert settings.require_for_api() is settings and settings.secret_key_generated


def test_keys_create_needs_only_the_secret_key(bare_env: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bare_env.setenv("FRAUDLOG_DATABASE_URL", POSTGRES)
    bare_env.setenv("FRAUDLOG_SECRET_KEY", "s3cret")
    assert main(["keys", "create", "loader", "admin"]) == 0
    assert "loader:admin:hash:" in capsys.readouterr().out


def test_keys_create_refuses_without_the_secret_key(bare_env: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bare_env.setenv("FRAUDLOG_DATABASE_URL", POSTGRES)
    assert main(["keys", "create", "loader", "admin"]) == 1
    assert "FRAUDLOG_SECRET_KEY is required" in capsys.readouterr().err


@pytest.mark.parametrize("env, missing", [
    ({"FRAUDLOG_SECRET_KEY": "s3cret"}, "FRAUDLOG_API_KEYS"),
    ({"FRAUDLOG_API_KEYS": "loader:admin:k3y-k3y"}, "FRAUDLOG_SECRET_KEY"),
])
def test_serve_still_refuses_to_run_open_outside_embedded_mode(
        bare_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], missing: str) -> None:
    bare_env.setenv("FRAUDLOG_DATABASE_URL", POSTGRES)
    for name, value in env.items():
        bare_env.setenv(name, value)
    assert main(["serve", "--port", "1"]) == 1
    assert f"{missing} is required outside embedded mode" in capsys.readouterr().err
