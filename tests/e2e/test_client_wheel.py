"""The client distribution stands alone (issue 31's "done when"): its wheel, built from client/ as the README says
(`pip wheel --no-deps client`), installs with httpx and msgspec (the versions requirements-test.lock pins) into a
fresh virtualenv without system site packages, where `fraudlog_client` imports and `fraudlog` does not; there the
example notebook's client cells (all but the plot, which needs matplotlib) and an async script run against an
embedded server that this test's own environment serves, as tests/e2e/test_notebook.py does.

The build runs with pip's build isolation: pip installs setuptools from the package index it is configured with,
and the install takes httpx's own dependencies from there too, at the versions the lock pins (a constraints file)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fraudlog.config import Settings
from fraudlog.domain.assignment import CHALLENGER
from fraudlog.lifecycle.roles import assign_role
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.engine import create_engine
from tests.support.api import served_api
from tests.support.models import SECRET, install_version

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "fraudlog-client.ipynb"

pytestmark = pytest.mark.slow

PROBE = """
import json
found = {}
for name in ("fraudlog_client", "fraudlog"):
    try:
        module = __import__(name)
        found[name] = module.__file__
    except ModuleNotFoundError:
        found[name] = None
import httpx, msgspec
found["versions"] = [httpx.__version__, msgspec.__version__]
print(json.dumps(found))
"""

ASYNC_SCRIPT = """
import asyncio, os
from fraudlog_client import AsyncFraudlogClient, StreamIdle

async def main() -> None:
    async with AsyncFraudlogClient(os.environ["FRAUDLOG_URL"]) as client:
        receipts = await client.submit([{"transaction_id": f"async-{i}", "card_id": "async-card", "amount": 10.0 + i,
                                         "event_time": "2026-01-01T00:00:00Z"} for i in range(3)])
        print("async receipts", [r.status for r in receipts])
        models = await client.models()
        print("async models", [m.version for m in models])
        page = await client.predictions(after="0", limit=5)
        print("async page", len(page.items))
        async for item in client.follow(after="0", idle_timeout=30):
            if item.transaction_id.startswith("async-"):
                print("async followed", item.transaction_id)
                break

asyncio.run(main())
"""


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def pinned(lock: Path) -> dict[str, str]:
    """name -> version of every pin in a hashed lock."""
    return {name.lower(): version for name, version in
            re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock.read_text(), flags=re.M)}


def notebook_script() -> str:
    """The notebook's code cells in order, without the plot (matplotlib is no client dependency)."""
    notebook = json.loads(NOTEBOOK.read_text())
    cells = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    return "\n\n".join(cell for cell in cells if "matplotlib" not in cell)


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("client-wheel")
    source = base / "client"  # a copy: setuptools writes build/ and *.egg-info where it builds
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(source), "-w", str(base / "dist")],
        cwd=base)
    [wheel] = (base / "dist").glob("fraudlog_client-*.whl")
    names = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert names == {"fraudlog_client", "fraudlog_client-0.2.0.dist-info"}
    assert "fraudlog_client/py.typed" in zipfile.ZipFile(wheel).namelist()
    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=base)  # no system site packages (the default)
    pins = pinned(ROOT / "requirements-test.lock")
    constraints = base / "constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(constraints), str(wheel),
         f"httpx=={pins['httpx']}", f"msgspec=={pins['msgspec']}"], cwd=base)
    run([str(venv / "bin" / "python"), "-m", "pip", "check"], cwd=base)
    return venv


def test_the_wheel_installs_fraudlog_client_alone(client_venv: Path, tmp_path: Path) -> None:
    python = str(client_venv / "bin" / "python")
    found = json.loads(run([python, "-I", "-c", PROBE], cwd=tmp_path))
    site = next((client_venv / "lib").glob("python3.*/site-packages"))
    assert found["fraudlog_client"] == str(site / "fraudlog_client" / "__init__.py")
    assert found["fraudlog"] is None
    pins = pinned(ROOT / "requirements-test.lock")
    assert found["versions"] == [pins["httpx"], pins["msgspec"]]
    installed = {line.split("==")[0].lower() for line in run([python, "-m", "pip", "freeze"], cwd=tmp_path).split()}
    assert "fraudlog" not in installed and {"fraudlog-client", "httpx", "msgspec"} <= installed
    assert not {"river", "sqlalchemy", "litestar", "dramatiq", "numpy"} & installed


def test_the_notebooks_client_calls_run_from_the_wheel_against_a_server(client_venv: Path, sqlite_url: str,
                                                                        tmp_path: Path) -> None:
    engine = create_engine(sqlite_url)
    install_version(engine, model="logreg")
    challenger = install_version(engine, promote=False)
    assign_role(ModelRegistry(engine, SECRET), challenger, CHALLENGER)
    engine.dispose()
    (tmp_path / "notebook.py").write_text(notebook_script())
    (tmp_path / "async_client.py").write_text(ASYNC_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FRAUDLOG_", "VIRTUAL_ENV"))}
    python = str(client_venv / "bin" / "python")
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    with served_api(settings, background=True) as url:
        env["FRAUDLOG_URL"] = url
        text = run([python, "-I", "notebook.py"], cwd=tmp_path, env=env, timeout=300)
        text_async = run([python, "-I", "async_client.py"], cwd=tmp_path, env=env, timeout=120)
    assert "sent 800 transactions" in text and "scored 800 of 800; backlog 0" in text, text
    assert "v1   champion" in text and re.search(r"v2\s+(challenger|retired)", text), text
    assert text.count("nb-") >= 5 and "silent" not in text, text
    assert "async receipts ['accepted', 'accepted', 'accepted']" in text_async, text_async
    assert "async models [1, 2]" in text_async and "async followed async-" in text_async, text_async
