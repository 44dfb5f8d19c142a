"""Helpers for tests of the operator chart: render it with the real helm, apply pieces of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client as k8s

from tests.support.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cloudios"
KEY = ("--set", "masterKey.existingSecret=cloudios-master-key")
GROUP, VERSION = "cloudios.io", "v1alpha1"
T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Retry until `check` returns something truthy; RBAC and new CRDs take effect asynchronously."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (k8s.ApiException, AssertionError) as exc:
            last = exc
        else:
            if result:
                return result
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout}s; last error: {last}")


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
