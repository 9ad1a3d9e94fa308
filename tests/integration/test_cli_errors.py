"""Commands fail with one line on stderr and a non-zero exit, never a traceback (issue 27 #12, #13)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import REPO


def fraudlog(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`fraudlog ARGS` in a process of its own, with `env` on top of this one's (no FRAUDLOG_ variable else)."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("FRAUDLOG_")}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env={**base, "FRAUDLOG_LOG_FORMAT": "text", **env}, timeout=120)


def one_line_failure(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The single stderr line of a failed command, checked to be that and no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fraudlog {command}: "), result.stderr
    return lines[0]


# -- #12 ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sink", ["http://u:pa#SECRET@host/hook", "http://u:pa/SECRET@host"])
def test_a_sink_url_whose_password_is_not_percent_encoded_fails_in_one_line_without_showing_it(
        database_url: str, sink: str) -> None:
    result = fraudlog("relay", "--once", FRAUDLOG_DATABASE_URL=database_url, FRAUDLOG_SECRET_KEY="k",
                      FRAUDLOG_ALERT_SINK=sink)
    line = one_line_failure(result, "relay")
    assert "FRAUDLOG_ALERT_SINK" in line and "percent-encode" in line
    assert "SECRET" not in result.stdout + result.stderr and "pa" not in line.split("FRAUDLOG_ALERT_SINK")[1][:20]
