"""`fraudlog demo` keeps its log in a file, and the file gets the log (issue 27 #15)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudlog.cli.demo import _logs_to_file
from fraudlog.config import Settings
from fraudlog.logs import configure_logging
from tests.support.api import build_app


@pytest.fixture
def restored_logging() -> Iterator[None]:
    yield
    configure_logging()


def test_the_demo_log_file_still_receives_records_after_the_app_is_built(
        tmp_path: Path, sqlite_url: str, restored_logging: None) -> None:
    """Building the Litestar app applies its logging config, which closes every handler: the demo's file
    handler, opened in "w" mode, then dropped every record silently and the file stayed empty."""
    configure_logging("INFO")  # as `fraudlog` does before any command
    path = _logs_to_file(tmp_path / "fraudlog-demo.log")
    build_app(Settings(database_url=sqlite_url, secret_key=b"k"))
    logging.getLogger("fraudlog.demo-test").info("an alert was delivered")

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["message"] for line in lines] == ["an alert was delivered"]


def test_each_demo_run_starts_its_log_afresh(tmp_path: Path, restored_logging: None) -> None:
    path = tmp_path / "fraudlog-demo.log"
    path.write_text('{"message": "from an earlier run"}\n')
    _logs_to_file(path)
    assert path.read_text() == ""
