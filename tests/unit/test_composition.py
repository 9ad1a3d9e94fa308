"""The process structure: one reader of the environment, an API that knows no workers, no broker at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Lineage's git commit is read by training itself until it takes `Settings.git_commit` (service/ml is the
# lead's, moved separately); remove this entry then.
ENVIRONMENT_READERS = {"service/config.py"}
# Writes prometheus_client's own variable for the API processes it starts (they inherit it); reads nothing.
ENVIRONMENT_WRITERS = {"service/metrics/multiprocess.py"}


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (REPO / folder).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {str(path.relative_to(REPO)) for path in _modules("service", "workers", "migrations")
               if "os.environ" in path.read_text() or "getenv(" in path.read_text()}
    assert readers <= ENVIRONMENT_READERS | ENVIRONMENT_WRITERS


# Where settings are read: the settings module itself, the entry points (the commands; the API's uvicorn
# factory; a worker process; the worker metrics exporter Dramatiq forks), and logging, which uvicorn's
# worker processes configure on their own from the dict config, before any entry point of ours runs.
FROM_ENV_CALLERS = {"service/config.py", "service/logs.py", "workers/wiring.py", "workers/process.py",
                    "workers/middleware.py"}


def test_settings_are_read_from_the_environment_only_at_entry_points() -> None:
    callers = {str(path.relative_to(REPO)) for path in _modules("service", "workers")
               if ".from_env(" in path.read_text().replace("`Settings.from_env()`", "")}
    assert {caller for caller in callers if not caller.startswith("service/cli/")} <= FROM_ENV_CALLERS


def test_the_import_contracts_hold() -> None:
    """The layers, the forbidden imports and the absence of cycles (`[tool.importlinter]` in pyproject.toml,
    drawn in docs/architecture.md): among them, the API imports nothing from the workers."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint) if lint.exists() else "lint-imports"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_handlers_are_given_their_dependencies_never_the_app_state() -> None:
    """Only the app factory (which sets the bundle once), the providers and the auth guard (which Litestar gives
    no dependencies) touch `app.state`."""
    def reads_state(path: Path) -> bool:
        tree = ast.parse(path.read_text())
        imports_state = any(isinstance(node, ast.ImportFrom) and any(a.name == "State" for a in node.names)
                            for node in ast.walk(tree))
        return imports_state or ".state." in path.read_text()

    readers = {str(path.relative_to(REPO)) for path in _modules("service/api") if reads_state(path)}
    assert readers == {"service/api/app.py", "service/api/dependencies.py", "service/api/auth.py"}


def test_the_scheduler_and_the_embedded_mode_run_one_schedule() -> None:
    from fraudlog.composition import EMBEDDED_PERIODS, SCHEDULER_PERIODS, job_schedule
    from fraudlog.config import RetrainSchedule
    from fraudlog.workers import tasks

    for every in ("300s", "5000events"):
        schedule = RetrainSchedule.parse(every)
        scheduler, embedded = job_schedule(schedule, SCHEDULER_PERIODS), job_schedule(schedule, EMBEDDED_PERIODS)
        assert [(j.actor, j.args) for j in scheduler] == [(j.actor, j.args) for j in embedded]
        assert [j.actor for j in scheduler] == ["sweep", "deliver_alerts", "evaluate", "retrain"]
        assert all(tasks.actor_named(job.actor) in tasks.ACTORS for job in scheduler)
    assert job_schedule(RetrainSchedule.parse("5000events"), SCHEDULER_PERIODS)[-1].args == (5000,)
    assert job_schedule(RetrainSchedule.parse("300s"), SCHEDULER_PERIODS)[-1].seconds == 300


def test_importing_the_actors_and_the_app_sets_no_broker() -> None:
    """The broker is set when a process starts (`fraudlog.workers.process`), never as a side effect of an import."""
    code = ("import dramatiq.broker as b, fraudlog.workers.tasks, fraudlog.workers.wiring, fraudlog.api.app, "
            "fraudlog.cli; assert b.global_broker is None, b.global_broker")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "", "FRAUDLOG_BROKER_URL": "amqp://guest:guest@127.0.0.1:9/"})
    assert done.returncode == 0, done.stderr


def test_a_broker_runs_the_jobs_it_was_given_and_gives_back_the_ones_before() -> None:
    """No global lookup of services: the bodies a worker runs are the `WorkerJobs` handed to its broker."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from fraudlog.workers import tasks

    class RecordingJobs(tasks.WorkerJobs):
        def __init__(self) -> None:
            super().__init__(lambda: (_ for _ in ()).throw(AssertionError("no services needed")))
            self.scored: list[list[int]] = []

        def score(self, positions: list[int]) -> None:
            self.scored.append(positions)

    broker = StubBroker()
    broker.emit_after("process_boot")
    tasks.bind(broker, "fraudlog-jobs-test")
    first, second = RecordingJobs(), RecordingJobs()
    assert tasks.run_jobs(broker, first) is None
    assert tasks.run_jobs(broker, second) is first
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        tasks.score.send([7, 8])
        broker.join(tasks.score.queue_name, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    assert (first.scored, second.scored) == ([], [[7, 8]])
    tasks.bind(broker, "fraudlog-jobs-test")  # a second app joining the broker keeps the jobs it runs
    assert tasks.run_jobs(broker, None) is second
