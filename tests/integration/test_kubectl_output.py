"""`kubectl cloudios … -o json|yaml` against a real API server: the same data as the table, parseable,
and values typed by users or read from clouds kept as inert text."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from cloudios.cli import kubectl
from tests.integration.test_crds_cluster import RECOMMENDATION, apply_crds
from tests.support.controlplane import ControlPlane

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "cloudios.io", "v1alpha1", "recommendations"
# A title as a hostile cloud tag could make it: YAML and rich markup, a bidi override, a tag.
HOSTILE = "!!python/object/apply:os.system ['id'] [bold red]x[/] \u202etxt.exe: {a: *b}"


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> k8s.CustomObjectsApi:
    apply_crds(control_plane, ROOT / "crds")
    return k8s.CustomObjectsApi(control_plane.api_client())


def recommendation(
    api: k8s.CustomObjectsApi, namespace: str, name: str, amount: str, *, published: bool = True, **spec: Any
) -> None:
    body = copy.deepcopy(RECOMMENDATION)
    body["metadata"] = {"name": name}
    if published:
        body["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "cloudios"}
    body["spec"].update(monthlySavings={"amount": amount, "currency": "USD"}, **spec)
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    if published:
        status = {"status": {"state": "Proposed", "firstSeen": "2026-11-01T00:00:00Z"}}
        api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, status)


def plugin(
    capsys: pytest.CaptureFixture[str], plane: ControlPlane, namespace: str, *args: str
) -> tuple[int, str]:
    capsys.readouterr()
    code = kubectl.main(["--kubeconfig", str(plane.kubeconfig_path), *args, "-n", namespace])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out


def test_every_command_speaks_json_and_yaml(
    api: k8s.CustomObjectsApi, control_plane: ControlPlane, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recommendation(api, namespace, "big", "140.16")
    recommendation(api, namespace, "small", "9.50", category="rightsize", title=HOSTILE)
    recommendation(api, namespace, "unconfirmed", "1000.00", published=False)

    code, out = plugin(capsys, control_plane, namespace, "summary", "-o", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["monthlySavings"] == {"amount": "149.66", "currency": "USD"}
    assert summary["openRecommendations"] == 2
    assert summary["unconfirmed"] == 1
    assert summary["byCategory"] == {
        "idle": {"amount": "140.16", "currency": "USD"},
        "rightsize": {"amount": "9.50", "currency": "USD"},
    }
    assert summary["byAccount"] == {f"{namespace}/prod": {"amount": "149.66", "currency": "USD"}}
    code, out = plugin(capsys, control_plane, namespace, "summary", "-o", "yaml")
    assert (code, yaml.safe_load(out)) == (0, summary)
    code, table = plugin(capsys, control_plane, namespace, "summary")
    assert "Total open savings: 149.66 USD per month" in table

    code, out = plugin(capsys, control_plane, namespace, "list", "-o", "yaml")
    assert code == 0
    rows = yaml.safe_load(out)  # safe_load: no tag of the title may construct anything
    assert [r["name"] for r in rows] == ["unconfirmed", "big", "small"]  # largest savings first
    assert [r["state"] for r in rows] == ["Unconfirmed", "Proposed", "Proposed"]
    assert rows[2]["title"] == HOSTILE  # the same text back, nothing interpreted
    assert "\u202e" not in out  # escaped in the YAML text, as JSON escapes it
    assert sum(Decimal(r["monthlySavings"]["amount"]) for r in rows[1:]) == Decimal("149.66")
    code, listed = plugin(capsys, control_plane, namespace, "list")
    assert code == 0
    assert "140.16 USD" in listed
    assert "[bold red]x[/]" in listed  # rich markup shown as written
    assert "\u202e" not in listed

    code, out = plugin(capsys, control_plane, namespace, "explain", "small", "-o", "json")
    assert code == 0
    explained = json.loads(out)
    assert explained["spec"]["title"] == HOSTILE
    assert "managedFields" not in explained["metadata"]

    code, out = plugin(
        capsys, control_plane, namespace, "approve", "big", "--reason", "idle for weeks", "-o", "yaml"
    )
    assert code == 0
    decided = yaml.safe_load(out)
    assert decided["spec"]["decision"] == {"type": "Approved", "reason": "idle for weeks"}
    code, out = plugin(capsys, control_plane, namespace, "dismiss", "small", "-o", "name")
    assert (code, out) == (0, "recommendation.cloudios.io/small\n")
