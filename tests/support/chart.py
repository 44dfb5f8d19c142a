"""Helpers for tests of the charts: render them with the real helm, apply pieces of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cloudios"
AGENT_CHART = ROOT / "helm" / "cloudios-agent"
VALUES = ROOT / "tests" / "support" / "charts"
KEY = ("--set", "masterKey.existingSecret=cloudios-master-key")
GROUP, VERSION = "cloudios.io", "v1alpha1"


def render(plane: ControlPlane, *args: str, namespace: str = "cloudios-system") -> list[dict[str, Any]]:
    """`helm template` of the chart, as parsed documents."""
    out = plane.helm("template", "cloudios", CHART, "--namespace", namespace, *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def apply_crds_for_real(plane: ControlPlane, docs: list[dict[str, Any]]) -> None:
    """Server-side apply the CRDs among `docs` and wait until they are Established."""
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=dump(crds))
    names = [f"crd/{d['metadata']['name']}" for d in crds]
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)


# Stand-ins for the Prometheus Operator and cert-manager CRDs, which the test server lacks: just
# enough (open schemas) for the API server to accept the charts' objects in a dry run.
STAND_INS = [
    ("monitoring.coreos.com", "ServiceMonitor", "v1"),
    ("monitoring.coreos.com", "PodMonitor", "v1"),
    ("monitoring.coreos.com", "PrometheusRule", "v1"),
    ("cert-manager.io", "Certificate", "v1"),
]


def stand_in_crd(group: str, kind: str, version: str) -> dict[str, Any]:
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"cloudios.io/test-stand-in": "true"}},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def apply_stand_ins(plane: ControlPlane) -> None:
    """Server-side apply the stand-in CRDs and wait until they are Established."""
    stand_ins = [stand_in_crd(*spec) for spec in STAND_INS]
    plane.kubectl("apply", "--server-side", "-f", "-", input=dump(stand_ins))
    names = [f"crd/{c['metadata']['name']}" for c in stand_ins]
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
