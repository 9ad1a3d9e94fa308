"""The Python client imports no server code (issue 31): a notebook or a service that only sends requests does not
pay for River, SQLAlchemy, Litestar or Dramatiq, and cannot break on them. import-linter checks the imports
statically (pyproject.toml); this checks what a fresh interpreter actually loads."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER = ("sqlalchemy", "river", "litestar", "dramatiq", "numpy", "scipy", "psycopg", "uvicorn",
          "fraudlog.store", "fraudlog.views", "fraudlog.models", "fraudlog.ml", "fraudlog.api.app",
          "fraudlog.workers")


def test_importing_the_client_loads_no_server_package() -> None:
    probe = ("import json, sys; import fraudlog.client; "
             f"print(json.dumps([m for m in {list(SERVER)!r} if m in sys.modules]))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                                       text=True).stdout)
    assert loaded == [], f"importing fraudlog.client loaded {loaded}"
