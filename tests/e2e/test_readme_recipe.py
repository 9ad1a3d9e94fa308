"""The README's "Running it for real" recipe, run as written on Postgres + RabbitMQ with real processes.

Only four things change: the database name (a throwaway one), the port (a free one), the CSV (the first
rows of the shared sample, so the run stays short) and the webhook URL (a JSON-lines file). The block runs
under `bash -e`, so every step must succeed; it must leave every streamed transaction with one champion
prediction, and the ids `fraudlog alerts` prints must be ones `fraudlog alerts retry` takes.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fraudlog.api.server import free_port
from fraudlog.store.engine import create_engine
from fraudlog.store.tables import alerts, events, predictions
from tests.support.data import SAMPLE_CSV
from tests.support.processes import REPO
from tests.support.services import PG_ADMIN_URL, pg_database_url, require_postgres, require_service

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

ROWS = 3_000  # streamed at the recipe's 1,000 a second: a few seconds
RECIPE_TIMEOUT = 180.0  # a guard against a hang, not a speed limit (typically 40-90 s)
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def readme_recipe() -> str:
    """The first fenced shell block under the "Running it for real" heading."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Running it for real", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```bash\n(.*?)^```", section, flags=re.M | re.S)
    assert match, "no ```bash block under the README's 'Running it for real' heading"
    return match.group(1)


def substituted(recipe: str, *, database: str, port: int, csv_path: Path, alerts_path: Path) -> str:
    """The recipe with the four permitted substitutions, each of which must find what it replaces."""
    replacements = [("5432/fraudlog", f"5432/{database}"), ("-U postgres fraudlog", f"-U postgres {database}"),
                    ("8000", str(port)), ("creditcard.csv", str(csv_path)),
                    ("https://alerts.example.internal/fraud", f"jsonl://{alerts_path}")]
    for old, new in replacements:
        assert old in recipe, f"the README recipe no longer contains {old!r}: update this test with it"
        recipe = recipe.replace(old, new)
    return recipe


def sample_csv(path: Path, rows: int) -> Path:
    with gzip.open(SAMPLE_CSV, "rt", newline="") as source, path.open("w", newline="") as target:
        writer = csv.writer(target)
        for n, row in enumerate(csv.reader(source)):
            if n > rows:
                break
            writer.writerow(row)
    return path


@contextlib.contextmanager
def dropped_afterwards(database: str) -> Iterator[str]:
    """The recipe creates its database (`createdb`); whatever happens, it is dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        yield pg_database_url(database)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


def run_in_process_group(script: str, env: dict[str, str], out: Path, err: Path) -> int:
    """`bash -e` on the script in a new session; the whole group (serve, workers, relay, scheduler) is
    killed at the end whatever the script did, so nothing outlives the test. What the commands print goes
    to `out`, the processes' logs (stderr) to `err`."""
    with out.open("wb") as stdout, err.open("wb") as stderr:
        shell = subprocess.Popen(["bash", "-e", "-c", script], env=env, cwd=out.parent, start_new_session=True,
                                 stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
        try:
            return shell.wait(timeout=RECIPE_TIMEOUT)
        except subprocess.TimeoutExpired:
            return -1
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(shell.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    shell.wait(timeout=10)


def test_the_readme_recipe_runs_as_written_and_scores_every_streamed_transaction(tmp_path: Path) -> None:
    require_postgres()
    require_service("RabbitMQ", "127.0.0.1", 5672)
    database = f"fraudlog_recipe_{uuid.uuid4().hex[:10]}"
    alerts_path = tmp_path / "alerts.jsonl"
    script = substituted(readme_recipe(), database=database, port=free_port(), alerts_path=alerts_path,
                         csv_path=sample_csv(tmp_path / "creditcard.csv", ROWS))
    # This virtualenv's `fraudlog` and `python3` first on the PATH; no FRAUDLOG_* setting but the queue
    # prefix, which keeps this run's queues apart from other runs on the same broker.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDLOG_") or k == "FRAUDLOG_QUEUE_PREFIX"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    out, err = tmp_path / "recipe.out", tmp_path / "recipe.err"
    with dropped_afterwards(database) as url:
        code = run_in_process_group(script, env, out, err)
        output = out.read_text(errors="replace")
        assert code == 0, f"the recipe exited {code}:\n{output[-3000:]}\n{err.read_text(errors='replace')[-3000:]}"
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                streamed = conn.execute(sa.select(sa.func.count()).select_from(events).where(
                    events.c.event_type == "transaction", ~events.c.transaction_id.startswith("hist:"))).scalar()
                scored = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(
                    predictions.c.transaction_id))).where(predictions.c.champion,
                                                          ~predictions.c.transaction_id.startswith("hist:"))).one()
                alert_ids = set(conn.execute(sa.select(alerts.c.id)).scalars())
            assert streamed == ROWS and tuple(scored) == (ROWS, ROWS)
            shown = set(UUID.findall(output))  # only `fraudlog alerts` prints alert ids on stdout
            assert shown and shown <= alert_ids, "fraudlog alerts must print whole alert ids"
            assert_retry_takes_a_shown_id(engine, url, sorted(shown)[0], env)
        finally:
            engine.dispose()


def assert_retry_takes_a_shown_id(engine: sa.Engine, url: str, alert_id: str, env: dict[str, str]) -> None:
    """As if the webhook had refused the alert until the relay gave up: `alerts retry` with the id as shown."""
    with engine.begin() as conn:
        conn.execute(sa.update(alerts).where(alerts.c.id == alert_id).values(status="failed"))
    retry = subprocess.run([sys.executable, "-m", "fraudlog.cli", "alerts", "retry", alert_id], cwd=REPO,
                           env={**env, "FRAUDLOG_DATABASE_URL": url, "FRAUDLOG_SECRET_KEY": "any"},
                           capture_output=True, text=True, timeout=60)
    assert retry.returncode == 0, retry.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.select(alerts.c.status).where(alerts.c.id == alert_id)).scalar() == "pending"
