"""Structured logs: JSON lines with the extra fields, a readable terminal format, and no secrets in either."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudlog.logs import ConsoleFormatter, JsonFormatter, Redactor, logging_config, use_json_lines

API_KEY = "fl_k3y-that-must-never-be-logged"
SECRET_KEY = "0123456789abcdef-secret-key"


def make_record(message: str, *args: object, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("fraudlog.scoring", level, __file__, 10, message, args or None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def redactor() -> Redactor:
    return Redactor.from_env({"FRAUDLOG_API_KEYS": f"loader:ingest:{API_KEY},x:analyst:hash:abc",
                              "FRAUDLOG_SECRET_KEY": SECRET_KEY})


def test_a_json_line_has_the_standard_fields_and_every_extra_field() -> None:
    record = make_record("scored %d transactions", 3, transaction_id="tx-000001", model_version=2, score=0.93)
    entry = json.loads(JsonFormatter(redactor()).format(record))
    assert entry["message"] == "scored 3 transactions"
    assert entry["level"] == "INFO" and entry["logger"] == "fraudlog.scoring"
    assert entry["ts"].endswith("Z") and entry["process"] == os.getpid() and entry["thread"]
    assert entry["transaction_id"] == "tx-000001" and entry["model_version"] == 2 and entry["score"] == 0.93


def test_an_exception_is_one_json_field_not_extra_lines() -> None:
    try:
        raise RuntimeError("the broker went away")
    except RuntimeError:
        record = make_record("scoring failed", level=logging.ERROR)
        record.exc_info = sys.exc_info()
    line = JsonFormatter(redactor()).format(record)
    assert "\n" not in line
    assert "RuntimeError: the broker went away" in json.loads(line)["exception"]


def test_secrets_never_reach_a_json_line() -> None:
    try:
        raise ValueError(f"bad key {API_KEY}")
    except ValueError:
        exc_info = sys.exc_info()
    record = make_record(
        "request with Authorization: Bearer %s to amqp://guest:hunter2@127.0.0.1:5672/ signed with %s",
        API_KEY, SECRET_KEY,
        headers={"Authorization": "Bearer abc.def", "Accept": "application/json"},
        api_key="raw-value", webhook_secret="whsec", detail=f"password={API_KEY}", keys=[API_KEY],
    )
    record.exc_info = exc_info
    line = JsonFormatter(redactor()).format(record)
    for secret in (API_KEY, SECRET_KEY, "hunter2", "abc.def", "raw-value", "whsec"):
        assert secret not in line
    entry = json.loads(line)
    assert entry["headers"] == {"Authorization": "[redacted]", "Accept": "application/json"}
    assert entry["api_key"] == "[redacted]" and entry["webhook_secret"] == "[redacted]"
    assert "amqp://guest:[redacted]@127.0.0.1:5672/" in entry["message"]


def test_the_terminal_format_is_one_readable_line_with_the_extras_and_no_secrets() -> None:
    record = make_record("scored with Bearer %s", API_KEY, transaction_id="tx-000001", model_version=2)
    line = ConsoleFormatter(redactor(), colour=False).format(record)
    assert "INFO" in line and "fraudlog.scoring" in line
    assert "transaction_id=tx-000001" in line and "model_version=2" in line
    assert API_KEY not in line and "\n" not in line


def test_json_lines_unless_on_a_terminal_or_told(tmp_path: Path) -> None:
    with open(tmp_path / "log", "w") as file:
        assert use_json_lines(file, env={}) is True
        assert use_json_lines(file, env={"FRAUDLOG_LOG_FORMAT": "text"}) is False

    class Terminal:
        def isatty(self) -> bool:
            return True

    assert use_json_lines(Terminal(), env={}) is False  # type: ignore[arg-type]
    assert use_json_lines(Terminal(), env={"FRAUDLOG_LOG_FORMAT": "json"}) is True  # type: ignore[arg-type]


def test_noisy_libraries_are_quieted_and_uvicorn_logs_through_the_root() -> None:
    config = logging_config("DEBUG", json_lines=True)
    assert config["root"]["level"] == "DEBUG"
    for name in ("httpx", "alembic", "uvicorn.access"):
        assert config["loggers"][name]["level"] == "WARNING"
    assert config["loggers"]["uvicorn"]["handlers"] == [] and config["loggers"]["uvicorn"]["propagate"]
    with pytest.raises(ValueError, match="unknown log level"):
        logging_config("LOUD")


def test_some_loggers_can_be_set_apart_from_the_root_level() -> None:
    config = logging_config("warning,fraudlog.scoring=debug,httpx=INFO", json_lines=True)
    assert config["root"]["level"] == "WARNING"
    assert config["loggers"]["fraudlog.scoring"]["level"] == "DEBUG"
    assert config["loggers"]["httpx"]["level"] == "INFO"


def test_configure_logging_writes_json_lines_to_a_pipe_without_the_configured_keys() -> None:
    program = (
        "import logging\n"
        "from fraudlog.logs import configure_logging\n"
        "configure_logging()\n"
        "logging.getLogger('httpx').info('HTTP Request: GET /v1/stats')\n"
        "logging.getLogger('fraudlog.api').warning('refused key %s', " + repr(API_KEY) + ",\n"
        "    extra={'transaction_id': 'tx-9', 'model_version': 3})\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "FRAUDLOG_API_KEYS": f"loader:ingest:{API_KEY}"}
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            env=env, cwd=Path(__file__).resolve().parents[2], check=True)
    [line] = result.stderr.splitlines()  # the httpx line is quieted
    entry = json.loads(line)
    assert entry["message"] == "refused key [redacted]"
    assert entry["transaction_id"] == "tx-9" and entry["model_version"] == 3


def test_an_api_built_with_our_litestar_config_keeps_the_json_lines() -> None:
    program = (
        "import logging\n"
        "from litestar import Litestar\n"
        "from fraudlog.logs import configure_logging, litestar_logging_config\n"
        "configure_logging(json_lines=True)\n"
        "Litestar([], logging_config=litestar_logging_config())\n"
        "logging.getLogger('fraudlog.api').info('after the app')\n"
        "logging.getLogger('litestar').warning('from litestar')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ.get("PATH", "")}, cwd=Path(__file__).resolve().parents[2],
                            check=True)
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(e["logger"], e["message"]) for e in entries] == [("fraudlog.api", "after the app"),
                                                             ("litestar", "from litestar")]
