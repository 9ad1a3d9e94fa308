"""Commands fail with one line on stderr and a non-zero exit, never a traceback (issue 27 #12, #13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.store.lifecycle import lifecycle_lock
from tests.support.processes import REPO


def fraudlog(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`fraudlog ARGS` in a process of its own, with `env` on top of this one's (no FRAUDLOG_ variable else)."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("FRAUDLOG_")}
    return subprocess.run([sys.executable, "-m", "fraudlog.cli", *args], cwd=REPO, capture_output=True, text=True,
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


# -- #13 ---------------------------------------------------------------------------------------------------

FACTORIES = '''
from river import linear_model, preprocessing


def raising():
    raise RuntimeError("boom in the factory")


def printing():
    print("hello from the factory")
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


class OneClass:
    def learn_one(self, x, y):
        pass

    def predict_proba_one(self, x):
        return {False: 1.0}


def degenerate():
    return OneClass()
'''


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> pytest.MonkeyPatch:
    """The environment of an in-process `fraudlog` command, with a module of odd factories importable."""
    for name in list(os.environ):
        if name.startswith("FRAUDLOG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", "cli-errors-secret")
    module = tmp_path / "factories_dir"
    module.mkdir()
    (module / f"{FACTORY_MODULE}.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(module))
    return monkeypatch


FACTORY_MODULE = "odd_factories_27"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def failed_in_one_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith(f"fraudlog {command}: "), err
    return err


def train(creditcard_csv: Path, *extra: str) -> int:
    return main(["train", "--csv", str(creditcard_csv), "--rows", "800", "--cards", "50", *extra])


@SQLITE_ONLY
@pytest.mark.parametrize("spec, says", [
    (f"{FACTORY_MODULE}:raising", "raised RuntimeError: boom in the factory"),
    ("no_such_module_27:factory", "cannot import no_such_module_27"),
    (f"{FACTORY_MODULE}:missing", f"{FACTORY_MODULE} has no missing"),
])
def test_a_spec_that_raises_or_is_missing_fails_in_one_line(cli_env: pytest.MonkeyPatch, creditcard_csv: Path,
                                                            capsys: pytest.CaptureFixture[str], spec: str,
                                                            says: str) -> None:
    assert train(creditcard_csv, "--spec", spec) == 1
    assert says in failed_in_one_line(capsys, "train")


@SQLITE_ONLY
def test_a_factory_whose_scores_cannot_rank_is_refused_not_registered_alerting_on_everything(
        cli_env: pytest.MonkeyPatch, creditcard_csv: Path, capsys: pytest.CaptureFixture[str],
        database_url: str) -> None:
    assert train(creditcard_csv, "--spec", f"{FACTORY_MODULE}:degenerate") == 1
    assert "alert on 100.00% of" in failed_in_one_line(capsys, "train")
    assert main(["models", "list"]) == 0
    assert "champion" not in capsys.readouterr().out  # nothing was registered


@SQLITE_ONLY
def test_models_verify_json_is_json_even_when_the_factory_prints(cli_env: pytest.MonkeyPatch, creditcard_csv: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert train(creditcard_csv, "--spec", f"{FACTORY_MODULE}:printing") == 0
    capsys.readouterr()
    assert main(["models", "verify", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["reproduced"] is True
    assert "hello from the factory" in captured.err  # not lost: moved out of the report's way


def test_losing_a_concurrent_retrain_fails_in_one_line(cli_env: pytest.MonkeyPatch, engine: Engine,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with lifecycle_lock(engine):  # what a retrain running in another process holds
        assert main(["models", "retrain"]) == 1
    assert "another retrain or evaluation" in failed_in_one_line(capsys, "models")


@SQLITE_ONLY
def test_a_database_url_that_is_not_a_url_fails_in_one_line(cli_env: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cli_env.setenv("FRAUDLOG_DATABASE_URL", "garbage")
    assert main(["db", "current"]) == 1
    assert "FRAUDLOG_DATABASE_URL" in failed_in_one_line(capsys, "db")


@SQLITE_ONLY
def test_downgrading_to_an_unknown_revision_fails_in_one_line(cli_env: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "downgrade", "0099"]) == 1
    assert "0099" in failed_in_one_line(capsys, "db")


@SQLITE_ONLY
def test_an_inverted_replay_range_is_refused_not_reported_reproduced(cli_env: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--from", "50", "--to", "10"]) == 1
    assert "--from 50 is after --to 10" in failed_in_one_line(capsys, "replay")
