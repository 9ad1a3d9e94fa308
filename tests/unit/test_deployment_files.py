"""Docker cannot run here, so the deployment files are checked for structure: services, images, health
checks, environment, that every command they run is a real `fraudlog` command, that Compose's variable
interpolation (as its reference documents it) leaves the test services free of secrets, and that every
install (CI, the image) comes from the hashed lock files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlog.api.auth import hash_key
from fraudlog.cli import build_parser
from fraudlog.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
FRAUDLOG_SERVICES = ["migrate", "api", "worker", "scheduler", "relay"]


def test_compose_has_every_process_and_backing_service() -> None:
    assert set(SERVICES) >= {"postgres", "rabbitmq", "redis", *FRAUDLOG_SERVICES}
    assert set(COMPOSE["volumes"]) >= {"pgdata", "rabbitmq"}
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]


@pytest.mark.parametrize("name", [n for n in SERVICES if n not in ("migrate", "init")])  # one-shot ones
def test_every_long_running_service_has_a_health_check(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", FRAUDLOG_SERVICES)
def test_fraudlog_services_use_the_image_and_the_full_configuration(name: str) -> None:
    service = SERVICES[name]
    assert service["image"] == "fraudlog:latest" and service["build"] == "."
    env = service["environment"]
    assert env["FRAUDLOG_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["FRAUDLOG_BROKER_URL"].startswith("amqp://")
    for required in ("FRAUDLOG_SECRET_KEY", "FRAUDLOG_API_KEYS"):
        assert env[required] == "${" + required + ":-}", "secrets come from .env or the shell, never the file"


@pytest.mark.parametrize("name", FRAUDLOG_SERVICES)
def test_every_command_exists_in_the_cli(name: str) -> None:
    args = build_parser().parse_args(SERVICES[name]["command"])
    assert callable(args.run)


def test_processes_start_after_migrations_and_the_broker() -> None:
    for name in ("api", "worker", "scheduler", "relay"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["restart"] == "no"


def test_dockerfile_is_slim_non_root_and_without_build_tools_in_the_final_stage() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and all(stage.startswith("python:3.11-slim") for stage in stages)
    final = stages[-1]
    assert re.search(r"^USER fraudlog$", final, flags=re.M)
    assert not re.search(r"\b(gcc|build-essential|make)\b", final)
    assert "HEALTHCHECK" in final and 'ENTRYPOINT ["fraudlog"]' in final


# -- Compose's interpolation, as https://docs.docker.com/reference/compose-file/interpolation/ states it --------

class MissingRequired(Exception):
    pass


_REFERENCE = re.compile(r"\$(?:(\$)|([_a-zA-Z][_a-zA-Z0-9]*)|\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-?+])([^}]*))?\})")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`$$` is a literal `$`; `$VAR`, `${VAR}` (unset: empty); `${VAR:-d}` / `${VAR-d}` (default when unset or
    empty / unset); `${VAR:?e}` / `${VAR?e}` (error); `${VAR:+r}` / `${VAR+r}` (replacement when set). A `$`
    that starts no valid reference is kept as it is. (Nested references are not used in our file.)"""

    def one(match: re.Match[str]) -> str:
        escaped, bare, name, operator, operand = match.groups()
        if escaped:
            return "$"
        name = bare or name
        value, is_set = env.get(name), name in env
        present = is_set and value != ""
        if operator in (":-", "-"):
            return str(value) if (present if operator == ":-" else is_set) else operand
        if operator in (":?", "?"):
            if not (present if operator == ":?" else is_set):
                raise MissingRequired(f"required variable {name} is missing a value: {operand}")
            return str(value)
        if operator in (":+", "+"):
            return operand if (present if operator == ":+" else is_set) else ""
        return value or ""

    return _REFERENCE.sub(one, text)


def interpolated(node: Any, env: Mapping[str, str]) -> Any:
    """The whole file interpolated, as Compose does before it looks at which services were asked for."""
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


def test_the_interpolation_model_follows_the_reference() -> None:
    env = {"SET": "v", "EMPTY": ""}
    cases = {"${SET}": "v", "$SET": "v", "${UNSET}": "", "${EMPTY:-d}": "d", "${EMPTY-d}": "", "${UNSET-d}": "d",
             "${SET:+r}": "r", "${EMPTY:+r}": "", "${EMPTY+r}": "r", "$$SET": "$SET", "a$(b)": "a$(b)"}
    assert {text: interpolate(text, env) for text in cases} == cases
    for required in ("${UNSET:?e}", "${EMPTY:?e}", "${UNSET?e}"):
        with pytest.raises(MissingRequired):
            interpolate(required, env)


def test_the_test_services_start_without_any_variable_set() -> None:
    """`docker compose up postgres rabbitmq redis` on a clean checkout: no .env, nothing exported. Compose
    interpolates every service first, so a single `${VAR:?}` anywhere in the file would refuse."""
    services = interpolated(COMPOSE, {})["services"]
    assert all(services[name]["image"] for name in ("postgres", "rabbitmq", "redis"))
    assert services["api"]["environment"]["FRAUDLOG_SECRET_KEY"] == ""  # fraudlog itself refuses, by name


def run_init_service(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The init service's script as its container's shell would get it (Compose turns `$$` into `$`), run
    here; returns the .env it prints, parsed, and its stderr."""
    init = SERVICES["init"]
    assert init["entrypoint"] == ["sh", "-c"] and init["profiles"] == ["init"]
    script = interpolate(init["command"][0], {})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fraudlog").write_text(f"#!/bin/sh\nexec {sys.executable} -m fraudlog.cli \"$@\"\n")
    (bin_dir / "python").write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDLOG_")}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    return parse_env_file(done.stdout), done.stderr


def parse_env_file(text: str) -> dict[str, str]:
    """Compose's .env syntax for the plain form we write: KEY=VALUE lines, `#` comments, blank lines."""
    pairs = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", name) and " " not in value and "$" not in value, line
            pairs[name] = value
    return pairs


def test_the_init_service_writes_an_env_file_every_process_starts_with(tmp_path: Path) -> None:
    dotenv, stderr = run_init_service(tmp_path)
    assert set(dotenv) == {"FRAUDLOG_SECRET_KEY", "FRAUDLOG_API_KEYS"} and len(dotenv["FRAUDLOG_SECRET_KEY"]) == 64
    services = interpolated(COMPOSE, dotenv)["services"]
    for name in FRAUDLOG_SERVICES:
        settings = Settings.from_env(services[name]["environment"])
        assert settings.require_for_api() is settings and settings.api_keys[0].role == "admin"
    key = stderr.rsplit(" ", 1)[1].strip()  # the admin key, shown once, on stderr only
    assert dotenv["FRAUDLOG_API_KEYS"].endswith(hash_key(dotenv["FRAUDLOG_SECRET_KEY"].encode(), key))
    assert key not in str(dotenv)


def test_env_example_names_only_variables_the_compose_file_passes_on() -> None:
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?(FRAUDLOG_[A-Z_]+)=", text, flags=re.M))
    passed = set(SERVICES["api"]["environment"])
    assert {"FRAUDLOG_SECRET_KEY", "FRAUDLOG_API_KEYS"} <= named <= passed
    assert parse_env_file(text) == {"FRAUDLOG_SECRET_KEY": "", "FRAUDLOG_API_KEYS": ""}  # no secret shipped


def test_workers_and_relays_deliver_alerts_into_the_same_volume_the_image_prepares() -> None:
    sink = SERVICES["relay"]["environment"]["FRAUDLOG_ALERT_SINK"]
    directory = interpolate(sink, {}).removeprefix("jsonl://").rsplit("/", 1)[0]
    for name in ("worker", "relay"):
        assert f"alerts:{directory}" in SERVICES[name]["volumes"]
    final = re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.M)[-1]
    after_user = final.split("USER fraudlog", 1)[1]  # made by the user that writes it: a fresh volume copies that
    assert f"mkdir -p {directory}" in after_user


# -- installs from the lock ------------------------------------------------------------------------------

def locked(path: Path) -> dict[str, str]:
    """name -> version of a pip requirements lock, checking that every pin carries hashes."""
    text = (ROOT / path).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, flags=re.M))
    assert pins and len(re.findall(r"^[A-Za-z0-9_.-]+==", text, flags=re.M)) == len(pins)
    for name in pins:
        assert re.search(rf"^{re.escape(name)}==\S+ \\\n\s+--hash=sha256:[0-9a-f]{{64}}", text, flags=re.M), name
    return {canonical(name): version for name, version in pins.items()}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# The client distribution (client/): installed from its folder or its wheel, never from a lock (no index has it).
CLIENT = "fraudlog-client"


def requirements(group: str | None = None, pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """name -> the requirement as written."""
    project = tomllib.loads(pyproject.read_text())["project"]
    listed = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return {canonical(re.split(r"[\[<>=~!; ]", r, maxsplit=1)[0]): r for r in listed}


def declared(group: str | None = None, pyproject: Path = ROOT / "pyproject.toml") -> set[str]:
    return set(requirements(group, pyproject))


def test_the_locks_pin_every_dependency_with_hashes_and_agree() -> None:
    runtime, test = locked(Path("requirements.lock")), locked(Path("requirements-test.lock"))
    assert CLIENT in declared() and CLIENT not in runtime and CLIENT not in test
    client = declared(pyproject=ROOT / "client" / "pyproject.toml")
    assert declared() - {CLIENT} | client <= set(runtime)
    assert declared() - {CLIENT} | declared("test") <= set(test)
    assert {name: test[name] for name in runtime} == runtime  # CI tests exactly what the image runs


def test_the_client_needs_httpx_and_msgspec_alone_in_the_servers_ranges_at_the_servers_version() -> None:
    server, client = requirements(), requirements(pyproject=ROOT / "client" / "pyproject.toml")
    assert set(client) == {"httpx", "msgspec"}
    assert {name: server[name] for name in client} == client
    versions = {tomllib.loads((folder / "pyproject.toml").read_text())["project"]["version"]
                for folder in (ROOT, ROOT / "client")}
    assert len(versions) == 1
    assert server[CLIENT] in (f"{CLIENT}=={versions.pop()}", f"{CLIENT}>=0.2,<0.3")


def test_ci_and_the_image_install_from_the_locks_and_nothing_else() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip\" install -q --require-hashes -r requirements-test.lock" in ci
    assert "pip\" install -q --no-deps -e ." in ci and "'.[test]'" not in ci
    # The client first, from its folder, then the server that depends on it; pip check sees both.
    client = ci.index("pip\" install -q --no-deps -e client --config-settings editable_mode=strict")
    assert client < ci.index("pip\" install -q --no-deps -e . ") < ci.index("pip\" check")
    final = re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.M)[-1]
    assert re.search(r"pip install .*--require-hashes -r /usr/local/share/fraudlog/requirements.lock", final)
    assert re.search(r"pip install .*--no-deps /wheels/\*\.whl", final)
    build = re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.M)[1]
    assert "COPY client ./client" in build and re.search(r"pip wheel .*--wheel-dir /wheels \./client \.$", build, re.M)
