"""What a released package promises: one version everywhere, keys a deployment script can capture, a
configuration table (docs/operations.md) that names every variable the code reads."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

import fraudlog
from fraudlog.api.auth import hash_key
from fraudlog.cli import main
from fraudlog.config import LogSettings, RelaySettings, Settings, parse_api_keys

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    assert fraudlog.__version__ == version("fraudlog")
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"fraudlog {version('fraudlog')}"


def test_keys_create_shell_output_sets_the_entry_and_the_key_when_evaluated(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDLOG_")}
    env |= {"FRAUDLOG_DATABASE_URL": "postgresql://postgres@127.0.0.1/x", "FRAUDLOG_SECRET_KEY": "s3cret",
            "FRAUDLOG_API_KEYS": "old:ingest:hash:00"}
    command = (f'eval "$({sys.executable} -m fraudlog.cli keys create loader admin --shell)" && '
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


# -- the configuration table --------------------------------------------------------------------------------

class RecordingEnv(dict[str, str]):
    """An environment that remembers every variable asked for, whether or not it is set."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(name)
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return super().__contains__(name)


def documented_variables() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text.split("This table names every variable the code reads", 1)[1].split("\n\n", 2)[1]
    return {name for row in table.splitlines()[2:] for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def variables_the_code_reads() -> set[str]:
    """Every variable the settings ask the environment for, plus every FRAUDLOG_* name the code spells out
    (a reader outside service/config.py would be a defect of its own, but must still be documented)."""
    env = RecordingEnv({"FRAUDLOG_DATABASE_URL": "postgresql://db/x"})  # not SQLite: no secret file is made
    Settings.from_env(env)
    LogSettings.from_env(env)
    RelaySettings.from_env(env)
    spelled = {name for path in [*(ROOT / "service").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]
               for name in re.findall(r"\b(FRAUDLOG_[A-Z0-9_]*[A-Z0-9])\b", path.read_text())}
    return env.asked | spelled


def test_the_configuration_table_lists_every_variable_the_code_reads_and_no_other() -> None:
    read, documented = variables_the_code_reads(), documented_variables()
    assert read - documented == set(), "add these to the configuration table in docs/operations.md"
    assert documented - read == set(), "docs/operations.md documents variables nothing reads"


def test_the_licence_file_is_the_one_pyproject_names() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "Apache-2.0" and "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the whole licence, not a pointer to it


def test_lineage_records_the_release_and_the_digest_of_the_lock_it_was_installed_from() -> None:
    from fraudlog.ml.training import environment, training_code

    recorded = environment()
    lock = hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest()
    assert recorded["fraudlog"] == version("fraudlog") and recorded["lock_sha256"] == lock
    assert training_code(environment).package_version == version("fraudlog")


def test_the_changelog_has_a_released_section_for_the_packages_version() -> None:
    """A version is released with its notes: pyproject's version is a dated section of CHANGELOG.md, below an
    (empty or not) Unreleased section that collects what comes next."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", (ROOT / "CHANGELOG.md").read_text(), flags=re.M)
    assert headings and headings[0][0] == "Unreleased", "CHANGELOG.md starts with '## [Unreleased]'"
    released = {name: rest for name, rest in headings[1:]}
    assert declared in released, f"CHANGELOG.md has no '## [{declared}] - YYYY-MM-DD' section"
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", released[declared]), "a released section is dated"
