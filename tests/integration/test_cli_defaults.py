"""CLI defaults that do not surprise (issue 31): read-only commands never create a database, client commands
read FRAUDLOG_URL, `keys create --shell` exports the key they read, tables print whole off a terminal, a closed
pipe ends quietly, and every option says what it does."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.table import Table

from fraudlog.cli import build_parser, main
from fraudlog.cli.client_options import DEFAULT_URL, chosen_url
from fraudlog.cli.output import table_console
from tests.support.processes import REPO

READ_ONLY = [["models", "list"], ["models", "show", "1"], ["models", "verify", "1"], ["models", "quality", "1"],
             ["alerts"], ["alerts", "retry", "a1"], ["stats"], ["drift"], ["db", "current"], ["replay"]]


@pytest.fixture
def no_fraudlog_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory and no FRAUDLOG_ variable: what a new user has."""
    for name in list(os.environ):
        if name.startswith("FRAUDLOG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_a_read_only_command_without_a_database_fails_in_one_line_and_creates_no_file(
        no_fraudlog_settings: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0] == (f"fraudlog {argv[0]}: no database at fraudlog.db: set "
                                            "FRAUDLOG_DATABASE_URL (`fraudlog demo` or `fraudlog train` make one)")
    assert captured.out == ""
    assert list(no_fraudlog_settings.iterdir()) == []  # neither fraudlog.db nor fraudlog.db.secret


def test_a_read_only_command_reads_a_database_that_exists(no_fraudlog_settings: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["stats"]) == 0
    assert capsys.readouterr().out.startswith("transactions 0,")


def namespace(url: str | None, *, url_required: bool = False) -> argparse.Namespace:
    return argparse.Namespace(url=url, url_required=url_required)


def test_client_commands_take_the_url_from_the_option_then_fraudlog_url_then_the_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDLOG_URL", raising=False)
    assert chosen_url(namespace(None)) == DEFAULT_URL
    monkeypatch.setenv("FRAUDLOG_URL", "http://fraudlog.internal:8080")
    assert chosen_url(namespace(None)) == "http://fraudlog.internal:8080"
    assert chosen_url(namespace(None, url_required=True)) == "http://fraudlog.internal:8080"
    assert chosen_url(namespace("http://other:9000")) == "http://other:9000"


def test_tail_sends_to_fraudlog_url(no_fraudlog_settings: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRAUDLOG_URL", "http://127.0.0.1:9")  # discard: nothing answers
    assert main(["tail", "--retry-for", "0"]) == 1
    assert "127.0.0.1:9" in capsys.readouterr().err


def test_simulate_without_url_or_fraudlog_url_fails_in_one_line(no_fraudlog_settings: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--csv", "missing.csv"]) == 1
    assert capsys.readouterr().err.strip() == "fraudlog simulate: no API to send to: give --url or set FRAUDLOG_URL"


def test_keys_create_shell_exports_the_key_the_client_commands_read() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDLOG_")}
    env |= {"FRAUDLOG_DATABASE_URL": "postgresql://postgres@127.0.0.1/x", "FRAUDLOG_SECRET_KEY": "s3cret"}
    # A child process (what `fraudlog tail` is to the shell) sees the key only if it was exported.
    command = (f'eval "$({sys.executable} -m fraudlog.cli keys create loader admin --shell)" && '
               f'{sys.executable} -c "import os; print(os.environ[\'FRAUDLOG_API_KEY\'])"')
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip().startswith("fl_")


def test_tables_print_whole_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    table = Table("status", "a wide column")
    table.add_row("champion", "x" * 300)
    table_console().print(table)
    out = capsys.readouterr().out
    assert "champion" in out and "x" * 300 in out and "…" not in out


def run_with_the_reader_gone(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`fraudlog ARGV | head -0`: the reading end of stdout is closed before the command writes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDLOG_")}
    env |= {"PYTHONPATH": str(REPO), "FRAUDLOG_LOG_FORMAT": "text"}
    process = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", *argv], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the child has imported anything
    stderr = process.stderr.read()
    return subprocess.CompletedProcess(argv, process.wait(timeout=120), "", stderr)


@pytest.mark.parametrize("argv", [["alerts"], ["models", "list"], ["db", "current"], ["stats", "--json"]],
                         ids=" ".join)
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, argv: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDLOG_")}
    subprocess.run([sys.executable, "-m", "fraudlog.cli", "db", "upgrade"], cwd=tmp_path, check=True,
                   env={**env, "PYTHONPATH": str(REPO)}, capture_output=True)
    done = run_with_the_reader_gone(argv, tmp_path)
    assert done.stderr == "" and done.returncode == 0, done.stderr


Parsers = Iterator[tuple[str, argparse.ArgumentParser]]


def every_parser(parser: argparse.ArgumentParser, path: str = "fraudlog") -> Parsers:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from every_parser(child, f"{path} {name}")


def test_every_command_and_option_has_help_text() -> None:
    missing = []
    for path, parser in every_parser(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {choice.dest for choice in action._choices_actions if choice.help}
                missing += [f"{path} {name}" for name in action.choices if name not in helped]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
