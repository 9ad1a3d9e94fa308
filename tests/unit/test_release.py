"""What a released package promises: one version everywhere, keys a deployment script can capture, a
configuration table that names every variable the code reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import service
from service.api.auth import hash_key
from service.cli import main
from service.config import parse_api_keys

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    assert service.__version__ == version("fraudlog")
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"fraudlog {version('fraudlog')}"


def test_keys_create_shell_output_sets_the_entry_and_the_key_when_evaluated(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDLOG_")}
    env |= {"FRAUDLOG_DATABASE_URL": "postgresql://postgres@127.0.0.1/x", "FRAUDLOG_SECRET_KEY": "s3cret",
            "FRAUDLOG_API_KEYS": "old:ingest:hash:00"}
    command = (f'eval "$({sys.executable} -m service.cli keys create loader admin --shell)" && '
               'printf "%s\\n%s\\n" "$FRAUDLOG_API_KEYS" "$FRAUDLOG_API_KEY"')
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, check=True)
    keys_line, key = done.stdout.splitlines()
    old, new = parse_api_keys(keys_line)
    assert (old.name, new.name, new.role) == ("old", "loader", "admin")
    assert re.fullmatch(r"fl_[A-Za-z0-9_-]+", key) and new.key == "hash:" + hash_key(b"s3cret", key)


def test_keys_create_refuses_a_name_that_is_not_one_shell_word(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", "s3cret")
    assert main(["keys", "create", "a b;rm", "admin", "--shell"]) == 1
    assert capsys.readouterr().out == ""
