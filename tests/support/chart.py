"""Helpers for tests of the operator chart: render it with the real helm, apply pieces of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cloudios"
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
