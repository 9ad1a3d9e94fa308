"""Fixtures that give every store test a fresh, migrated database on SQLite and on real Postgres.

Postgres: one migrated template database per test session, then a copy per test (`CREATE DATABASE ...
TEMPLATE`), because the event log refuses TRUNCATE and a copy is faster than migrating again.
When a service is unreachable the test fails under CI (`CI` set) and skips, saying why, on a laptop.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.store import migrate
from service.store.engine import create_engine

# Test runs share the machine's broker with anything else on it: give this run's queues their own names.
os.environ.setdefault("FRAUDLOG_QUEUE_PREFIX", f"fraudlog-test-{uuid.uuid4().hex[:8]}")

PG_ADMIN_URL = os.environ.get("FRAUDLOG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("FRAUDLOG_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("FRAUDLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DATA_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "creditcard_sample.csv.gz"


def require_service(name: str, host: str, port: int) -> None:
    """Fail under CI, skip elsewhere, when a real service the test needs is not listening."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} at {host}:{port} is unreachable ({exc})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must start it (see .ci/run)", pytrace=False)
        pytest.skip(message + "; start it (docker compose up) to run this test")


def _pg_url(database: str) -> str:
    return sa.make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    url = sa.make_url(PG_ADMIN_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    name = f"fraudlog_tpl_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    template = create_engine(_pg_url(name), poolclass=sa.NullPool)
    migrate.upgrade(template)
    template.dispose()
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated Postgres database for one test; dropped afterwards."""
    name = f"fraudlog_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


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
    if not DATA_CSV.exists():
        pytest.skip(f"the sample data is not at {DATA_CSV}")
    return DATA_CSV
