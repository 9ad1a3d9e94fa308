"""Docker cannot run here, so the deployment files are checked for structure: services, images, health
checks, environment, and that every command they run is a real `fraudlog` command."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
FRAUDLOG_SERVICES = ["migrate", "api", "worker", "scheduler", "relay"]


def test_compose_has_every_process_and_backing_service() -> None:
    assert set(SERVICES) >= {"postgres", "rabbitmq", "redis", *FRAUDLOG_SERVICES}
    assert set(COMPOSE["volumes"]) >= {"pgdata", "rabbitmq"}
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]


@pytest.mark.parametrize("name", [n for n in SERVICES if n != "migrate"])
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
        assert env[required].startswith("${" + required + ":?"), "secrets come from the environment"


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
