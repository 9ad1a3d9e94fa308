"""The Kubernetes manifests (deploy/kubernetes) are valid and agree with the code, checked offline.

Kubernetes cannot run here, so each manifest is validated against the schemas vendored beside it (the
built-in kinds from kubernetes-validate's strict schemas, KEDA's ScaledObject from its CRD: unknown fields are
refused, as `kubectl apply --validate=strict` refuses them), and everything the schemas cannot know is
checked against the code: probe paths are routes of the app, variables are ones the code reads, commands
parse, selectors select, the scheduler is single and the KEDA queue is the one the workers consume.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from litestar import Controller
from litestar.handlers import HTTPRouteHandler

import fraudlog.api
from fraudlog.cli import build_parser
from fraudlog.workers.tasks import SCORE_QUEUE
from tests.unit.test_release import variables_the_code_reads

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
SCHEMAS = MANIFESTS / "schemas"
# Applied by hand, not by `kubectl apply -k` (docs/kubernetes.md says when).
APPLIED_SEPARATELY = {"secret.template.yaml", "migrate-job.yaml"}
BUILT_IN_KINDS = {
    ("apps/v1", "Deployment"): "io.k8s.api.apps.v1.Deployment",
    ("v1", "Service"): "io.k8s.api.core.v1.Service",
    ("v1", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap",
    ("v1", "Secret"): "io.k8s.api.core.v1.Secret",
    ("batch/v1", "Job"): "io.k8s.api.batch.v1.Job",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    ("policy/v1", "PodDisruptionBudget"): "io.k8s.api.policy.v1.PodDisruptionBudget",
}
KEDA_SCALED_OBJECT = ("keda.sh/v1alpha1", "ScaledObject")


def manifest_files() -> list[Path]:
    return sorted(path for path in MANIFESTS.rglob("*.yaml")
                  if path.name != "kustomization.yaml" and SCHEMAS not in path.parents)


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def every_object() -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in documents(path)]


def objects_of(kind: str, objects: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [doc for doc in (objects if objects is not None else every_object()) if doc["kind"] == kind]


def validator_for(api_version: str, kind: str) -> Any:
    if (api_version, kind) == KEDA_SCALED_OBJECT:
        return jsonschema_rs.Draft202012Validator(json.loads((SCHEMAS / "keda-scaledobject-v1alpha1.json").read_text()))
    definitions = json.loads((SCHEMAS / "kubernetes-strict.json").read_text())["$defs"]
    name = BUILT_IN_KINDS[(api_version, kind)]
    return jsonschema_rs.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": definitions})


def pod_specs() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, its pod spec) for every Deployment and Job."""
    for doc in every_object():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


def deployment(name: str) -> dict[str, Any]:
    (found,) = [doc for doc in objects_of("Deployment") if doc["metadata"]["name"] == name]
    return found


def app_paths() -> set[str]:
    """Every path the API serves: the route handlers and controllers defined in `fraudlog.api`'s modules."""
    paths: set[str] = set()
    for module_info in pkgutil.iter_modules(fraudlog.api.__path__):
        module = importlib.import_module(f"fraudlog.api.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, HTTPRouteHandler):
                paths |= value.paths
            elif isinstance(value, type) and issubclass(value, Controller) and value is not Controller:
                prefix: str = vars(value)["path"]  # the class attribute, not the slot mypy sees
                for handler in vars(value).values():
                    if isinstance(handler, HTTPRouteHandler):
                        paths |= {prefix.rstrip("/") + path if path != "/" else prefix for path in handler.paths}
    return paths


# -- the schemas ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: str(path.relative_to(MANIFESTS)))
def test_every_manifest_is_valid_against_its_kinds_schema(path: Path) -> None:
    for doc in documents(path):
        key = (doc["apiVersion"], doc["kind"])
        assert key in BUILT_IN_KINDS or key == KEDA_SCALED_OBJECT, f"{path.name}: no schema vendored for {key}"
        errors = [f"{error.instance_path}: {error.message}" for error in validator_for(*key).iter_errors(doc)]
        assert errors == [], f"{path.name}, {doc['kind']} {doc['metadata']['name']}"


def test_the_strict_schemas_refuse_a_misspelt_field() -> None:
    api = json.loads(json.dumps(deployment("fraudlog-api")))
    api["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/ready", "port": 8000}}
    assert not validator_for("apps/v1", "Deployment").is_valid(api)
    (scaled,) = objects_of("ScaledObject", documents(MANIFESTS / "worker.yaml"))
    scaled = json.loads(json.dumps(scaled))
    scaled["spec"]["maxReplicas"] = 3  # an HPA's name, not KEDA's (maxReplicaCount)
    assert not validator_for(*KEDA_SCALED_OBJECT).is_valid(scaled)


def test_the_kustomization_lists_every_manifest_but_those_applied_by_hand() -> None:
    listed = set(yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"])
    top_level = {path.name for path in manifest_files() if path.parent == MANIFESTS}
    assert listed == top_level - APPLIED_SEPARATELY


# -- what the schemas cannot know ----------------------------------------------------------------------------

def test_probes_and_scrape_paths_are_routes_of_the_api() -> None:
    paths = app_paths()
    api = deployment("fraudlog-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    port_names = {port["name"] for port in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in paths
        assert container[probe]["httpGet"]["port"] in port_names
    assert api["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"] in paths


def test_every_variable_the_manifests_set_is_one_the_code_reads() -> None:
    read = variables_the_code_reads()
    set_by_manifests = {name for doc in objects_of("ConfigMap") + objects_of("Secret")
                        for name in {**doc.get("data", {}), **doc.get("stringData", {})}}
    set_by_manifests |= {env["name"] for _, spec in pod_specs() for container in spec["containers"]
                         for env in container.get("env", [])}
    assert set_by_manifests - read == set()
    (secret,) = objects_of("Secret")
    assert {"FRAUDLOG_DATABASE_URL", "FRAUDLOG_BROKER_URL", "FRAUDLOG_SECRET_KEY",
            "FRAUDLOG_API_KEYS"} <= secret["stringData"].keys()
    assert all("REPLACE_ME" in value for value in secret["stringData"].values()), "a template holds no secret"


def test_every_container_reads_the_config_and_secret_the_manifests_define() -> None:
    config_maps = {doc["metadata"]["name"] for doc in objects_of("ConfigMap")}
    secrets = {doc["metadata"]["name"] for doc in objects_of("Secret")}
    for workload, spec in pod_specs():
        for container in spec["containers"]:
            sources = container["envFrom"]
            assert {source["configMapRef"]["name"] for source in sources if "configMapRef" in source} <= config_maps
            assert {source["secretRef"]["name"] for source in sources if "secretRef" in source} <= secrets
            assert len(sources) == 2, workload["metadata"]["name"]


def test_every_container_runs_a_fraudlog_command_that_parses() -> None:
    parser = build_parser()
    for workload, spec in pod_specs():
        for container in spec["containers"]:
            assert "command" not in container, "the image's entry point is `fraudlog`"
            args = parser.parse_args(container["args"])
            assert args.command == container["args"][0], workload["metadata"]["name"]


def test_every_container_requests_cpu_and_memory_and_caps_memory() -> None:
    for workload, spec in pod_specs():
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), workload["metadata"]["name"]
            assert "memory" in resources["limits"], workload["metadata"]["name"]


def test_selectors_select_their_pods_and_targets_exist() -> None:
    deployments = {doc["metadata"]["name"]: doc for doc in objects_of("Deployment")}
    for doc in deployments.values():
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items(), doc["metadata"]["name"]
    pod_labels = [doc["spec"]["template"]["metadata"]["labels"] for doc in deployments.values()]
    for service_doc in objects_of("Service"):
        selected = [labels for labels in pod_labels if service_doc["spec"]["selector"].items() <= labels.items()]
        assert len(selected) == 1, service_doc["metadata"]["name"]
    for budget in objects_of("PodDisruptionBudget"):
        assert sum(budget["spec"]["selector"]["matchLabels"].items() <= labels.items() for labels in pod_labels) == 1
    for scaler in objects_of("HorizontalPodAutoscaler") + objects_of("ScaledObject"):
        target = scaler["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments


def test_the_scheduler_is_single_and_never_autoscaled() -> None:
    scheduler = deployment("fraudlog-scheduler")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}  # the old pod ends before a new one starts
    scaled = {doc["spec"]["scaleTargetRef"]["name"]
              for doc in objects_of("HorizontalPodAutoscaler") + objects_of("ScaledObject")}
    assert "fraudlog-scheduler" not in scaled
    schedulers = [doc for doc, spec in pod_specs() if spec["containers"][0]["args"][0] == "scheduler"]
    assert schedulers == [scheduler]


def test_the_workers_scale_on_the_queue_they_consume_or_the_backlog_the_api_exports() -> None:
    (config,) = objects_of("ConfigMap")
    prefix = config["data"]["FRAUDLOG_QUEUE_PREFIX"]
    (secret,) = objects_of("Secret")
    triggers = {trigger["type"]: trigger["metadata"] for doc in objects_of("ScaledObject")
                for trigger in doc["spec"]["triggers"]}
    assert triggers["rabbitmq"]["queueName"] == f"{prefix}.{SCORE_QUEUE}"
    assert triggers["rabbitmq"]["hostFromEnv"] in secret["stringData"]
    exported = (ROOT / "service" / "metrics" / "database.py").read_text()
    metric = triggers["prometheus"]["query"].split("(", 1)[1].split(")", 1)[0]
    assert f'"{metric}"' in exported
    (main_scaler,) = objects_of("ScaledObject", documents(MANIFESTS / "worker.yaml"))
    assert main_scaler["spec"]["scaleTargetRef"]["name"] == "fraudlog-worker"
