"""Fixtures that give every store test a fresh, migrated database on SQLite and on real Postgres.

Postgres: one migrated template database per test session, then a copy per test (`CREATE DATABASE ...
TEMPLATE`), because the event log refuses TRUNCATE and a copy is faster than migrating again.
When a service is unreachable the test fails under CI (`CI` set) and skips, saying why, on a laptop.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.store import migrate
from fraudlog.store.engine import create_engine
from tests.support.data import SAMPLE_CSV
from tests.support.services import (
    RABBITMQ_URL,
    REDIS_URL,
    queue_prefix,
    require_postgres,
    require_service,
    throwaway_pg_database,
)

# Test runs share the machine's broker with anything else on it: this run's queues (and, under pytest-xdist,
# each worker's) get names of their own.
os.environ["FRAUDLOG_QUEUE_PREFIX"] = queue_prefix(os.environ)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """One migrated Postgres database per test session, the template of every test's own copy."""
    require_postgres()
    name = f"fraudlog_tpl_{os.getpid()}"
    with throwaway_pg_database(name) as url:
        template = create_engine(url, poolclass=sa.NullPool)
        migrate.upgrade(template)
        template.dispose()
        yield name


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated Postgres database for one test; dropped afterwards."""
    with throwaway_pg_database(f"fraudlog_t_{uuid.uuid4().hex[:12]}", template=pg_template) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite file for one test."""
    path = tmp_path / "fraudlog.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs twice: on SQLite and on Postgres."""
    return str(request.getfixturevalue("pg_url" if request.param == "postgres" else "sqlite_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def rabbitmq_url() -> str:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def creditcard_csv() -> Path:
    if not SAMPLE_CSV.exists():
        pytest.skip(f"the sample data is not at {SAMPLE_CSV}")
    return SAMPLE_CSV
