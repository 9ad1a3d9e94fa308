"""A dead API process's open-stream gauge is not exported any more (issue 27 #8).

Under `serve --workers N` each process writes its gauges to files in the shared multiprocess directory;
a process killed with streams open left `fraudlog_stream_consumers{pid=...} 1.0` behind for good.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from fraudlog.api.prometheus import MetricsExposition
from fraudlog.metrics.database import DatabaseFigures
from fraudlog.store.engine import create_engine
from fraudlog.store.stats import collect_stats
from tests.support.processes import REPO

API_CHILD = """
import sys
from fraudlog.feed.hub import STREAM_CONSUMERS
STREAM_CONSUMERS.inc()  # one stream open in this process
print("open", flush=True)
sys.stdin.readline()  # lives until told
"""


def open_streams(text: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "fraudlog_stream_consumers" for sample in family.samples)


def test_only_live_api_processes_count_their_open_streams(sqlite_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    children = [subprocess.Popen([sys.executable, "-c", API_CHILD], cwd=REPO, env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    engine = create_engine(sqlite_url)
    try:
        assert all(child.stdout and child.stdout.readline().strip() == "open" for child in children)
        exposition = MetricsExposition(lambda: DatabaseFigures(collect_stats(engine)), str(directory))
        assert open_streams(exposition.render().decode()) == 2

        children[0].kill()  # SIGKILL: no chance to close its stream
        children[0].wait(timeout=10)
        assert open_streams(exposition.render().decode()) == 1
    finally:
        for child in children:
            child.kill()
            child.wait(timeout=10)
        engine.dispose()
