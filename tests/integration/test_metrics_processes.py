"""`fraudlog serve --workers 2`: whichever process answers the scrape, the request histogram counts the
requests of both (prometheus_client's multiprocess mode, in a directory `serve` prepares, or the configured
PROMETHEUS_MULTIPROC_DIR, emptied first)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fraudlog.api.server import free_port
from tests.support.processes import REPO, kill, log_file, service_env, wait_until


def health_requests_counted(text: str) -> float:
    [count] = [sample.value for family in text_string_to_metric_families(text)
               if family.name == "fraudlog_http_request_duration_seconds" for sample in family.samples
               if sample.name.endswith("_count")
               and sample.labels == {"method": "GET", "route": "/health", "status_code": "200"}]
    return count


@pytest.mark.slow
@pytest.mark.parametrize("configured", [True, False], ids=["configured directory", "directory of its own"])
def test_every_api_process_reports_the_requests_of_all(sqlite_url: str, tmp_path: Path, configured: bool) -> None:
    port = free_port()
    if configured:
        multiproc_dir = tmp_path / "prometheus"
        multiproc_dir.mkdir()
        (multiproc_dir / "histogram_1.db").write_bytes(b"a previous run's file")  # must be emptied, not summed
        env = service_env(sqlite_url, "memory://", PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir))
    else:
        env = service_env(sqlite_url, "memory://", TMPDIR=str(tmp_path))
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    api = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", "serve", "--port", str(port), "--workers", "2"],
                           cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=log_file("api"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(url), timeout=60, message="the API to start")
        sent = 0

        def burst() -> bool:  # concurrent connections, until both processes have answered some
            nonlocal sent
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(lambda _: httpx.get(f"{url}/health", timeout=10).status_code, range(40)))
            assert set(codes) == {200}
            sent += len(codes)
            files = (multiproc_dir if configured else tmp_path).glob("**/histogram_*.db")
            return len({path.stem.rsplit("_", 1)[-1] for path in files}) == 2

        wait_until(burst, timeout=120, message="both API processes to answer requests")
        scrapes = [httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer test-key"}, timeout=30)
                   for _ in range(6)]
        assert {r.status_code for r in scrapes} == {200}
        # _up's own /health calls count too: at least all we sent, the same in every scrape.
        counted = {health_requests_counted(r.text) for r in scrapes}
        assert len(counted) == 1 and counted.pop() >= sent
    finally:
        kill(api)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
