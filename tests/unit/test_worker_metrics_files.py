"""The worker metrics exporter reads the value files every worker on the host shares (`fraudlog.workers.middleware`): an
empty one, left by a process killed while creating it, must not fail every scrape."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from fraudlog.workers.middleware import WrittenFilesCollector


def write_counter(directory: Path) -> None:
    """A counter incremented in a multiprocess-mode child, as a Dramatiq worker does."""
    script = textwrap.dedent("""
        from prometheus_client import Counter
        Counter("fraudlog_test_things", "things", ["actor_name"]).labels("sweep").inc(3)
    """)
    subprocess.run([sys.executable, "-c", script], check=True,
                   env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)})


def test_an_empty_value_file_is_left_out_and_the_others_are_served(tmp_path: Path) -> None:
    write_counter(tmp_path)
    (tmp_path / "counter_99999.db").write_bytes(b"")  # a process killed between creating and sizing it
    plain = CollectorRegistry()
    MultiProcessCollector(plain, path=str(tmp_path))
    try:
        generate_latest(plain)
    except Exception as exc:  # what the exporter did before: every scrape failed
        failed = exc
    else:
        failed = None
    assert failed is not None, "prometheus_client's own collector is expected to fail on an empty file"

    registry = CollectorRegistry()
    registry.register(WrittenFilesCollector(str(tmp_path)))
    text = generate_latest(registry).decode()
    assert 'fraudlog_test_things_total{actor_name="sweep"} 3.0' in text, text
