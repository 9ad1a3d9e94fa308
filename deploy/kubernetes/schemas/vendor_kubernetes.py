"""Rebuild kubernetes-strict.json from the schemas the kubernetes-validate wheel bundles (Apache-2.0).

    pip download --no-deps kubernetes-validate==1.37.0 && unzip kubernetes_validate-1.37.0-*.whl -d kv
    python deploy/kubernetes/schemas/vendor_kubernetes.py \
        kv/kubernetes_validate/kubernetes-json-schema/v1.37.0-local-strict > deploy/kubernetes/schemas/kubernetes-strict.json

Keeps only the kinds the manifests use and the definitions they reach, without descriptions: the
whole set is 1.8 MB per Kubernetes version, this is a small fraction of it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KINDS = {
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.batch.v1.Job",
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    "io.k8s.api.policy.v1.PodDisruptionBudget",
}
REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def stripped(node: Any, reached: set[str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "description":
                continue
            if key == "$ref" and isinstance(value, str):
                name = value
                for prefix in REF_PREFIXES:
                    name = name.removeprefix(prefix)
                reached.add(name)
                out[key] = f"#/$defs/{name}"
            else:
                out[key] = stripped(value, reached)
        return out
    if isinstance(node, list):
        return [stripped(item, reached) for item in node]
    return node


def main(directory: Path) -> None:
    definitions = json.loads((directory / "_definitions.json").read_text())["$defs"]
    kept: dict[str, Any] = {}
    pending = set(KINDS)
    while pending:
        name = pending.pop()
        reached: set[str] = set()
        kept[name] = stripped(definitions[name], reached)
        pending |= reached - kept.keys()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$comment": f"from kubernetes-validate 1.37.0 ({directory.name}), Apache-2.0; see README.md",
              "$defs": dict(sorted(kept.items()))}
    json.dump(schema, sys.stdout, indent=None, separators=(",", ":"), sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
