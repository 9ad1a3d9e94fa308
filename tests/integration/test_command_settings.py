"""The README's production recipe: its first steps run with only the database URL (and the secret key)."""

from __future__ import annotations

import os

import pytest

from fraudlog.cli import main
from fraudlog.store import migrate
from fraudlog.store.engine import create_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def only_database_url(monkeypatch: pytest.MonkeyPatch, pg_url: str) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("FRAUDLOG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", pg_url)
    monkeypatch.setenv("FRAUDLOG_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
    return monkeypatch


def test_db_upgrade_runs_with_only_the_database_url(only_database_url: pytest.MonkeyPatch, pg_url: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "downgrade", "base"]) == 0
    assert main(["db", "upgrade"]) == 0
    engine = create_engine(pg_url)
    try:
        assert f"database at revision {migrate.current_revision(engine)}" in capsys.readouterr().out
    finally:
        engine.dispose()


def test_keys_create_runs_with_the_database_url_and_secret_key(only_database_url: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    only_database_url.setenv("FRAUDLOG_SECRET_KEY", "production-secret")
    assert main(["keys", "create", "loader", "admin"]) == 0
    assert "loader:admin:hash:" in capsys.readouterr().out


def test_serve_refuses_without_api_keys(only_database_url: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    only_database_url.setenv("FRAUDLOG_SECRET_KEY", "production-secret")
    assert main(["serve", "--port", "1"]) == 1
    assert "FRAUDLOG_API_KEYS is required outside embedded mode" in capsys.readouterr().err
