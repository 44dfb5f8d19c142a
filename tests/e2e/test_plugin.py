"""`kubectl cloudios` on the operator's real Recommendations: RBAC, stamped decisions, summary, explain."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from cloudios.cli import kubectl
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.aws, pytest.mark.helm]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cloudios"
ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"
OPEN_STATES = {"Proposed", "Approved", "Applied"}
TOTAL = re.compile(r"Total open savings: ([0-9]+\.[0-9]{2}) USD per month")


@pytest.fixture(scope="module")
def roles(control_plane: ControlPlane) -> None:
    """The chart's cloudios-owner/admin/member ClusterRoles, rendered by helm and applied."""
    rendered = control_plane.helm(
        "template", "cloudios", CHART, "--namespace", "cloudios-system",
        "--set", "masterKey.existingSecret=cloudios-master-key",
        "--show-only", "templates/rbac-roles.yaml",
    ).stdout  # fmt: skip
    assert sorted(d["metadata"]["name"] for d in yaml.safe_load_all(rendered) if d) == [
        "cloudios-admin",
        "cloudios-member",
        "cloudios-owner",
    ]
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=rendered)


def bind_group(plane: ControlPlane, namespace: str, role: str, group: str) -> None:
    k8s.RbacAuthorizationV1Api(plane.api_client()).create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name=f"{group}-{role}"),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
            subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="Group", name=group)],
        ),
    )


def plugin(
    capsys: pytest.CaptureFixture[str],
    plane: ControlPlane,
    namespace: str,
    *args: str,
    user: str | None = None,
    groups: Sequence[str] = (),
) -> tuple[int, str, str]:
    """Run `kubectl cloudios <args> -n <namespace>` in-process; (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    argv = ["--kubeconfig", str(plane.kubeconfig_path)]
    if user:
        argv += ["--as", user]
        for group in groups:
            argv += ["--as-group", group]
    code = kubectl.main([*argv, *args, "-n", namespace])
    out = capsys.readouterr()
    return code, out.out, out.err


def scanned(cluster: Cluster, policy_name: str, count: int) -> list[dict[str, Any]]:
    """Wait until the policy's first run published `count` Recommendations; return them."""

    def done() -> list[dict[str, Any]] | None:
        ready = cluster.condition(POLICIES, policy_name, "Ready") or {}
        items = cluster.items(RECOMMENDATIONS, f"cloudios.io/policy={policy_name}")
        return items if ready.get("reason") == "ScanSucceeded" and len(items) == count else None

    return eventually(done, timeout=120, what=f"{count} recommendations of {policy_name}")


def state_is(cluster: Cluster, name: str, state: str) -> None:
    eventually(
        lambda: cluster.get(RECOMMENDATIONS, name).get("status", {}).get("state") == state,
        what=f"{name} {state}",
    )


def assert_summary(
    capsys: pytest.CaptureFixture[str], plane: ControlPlane, cluster: Cluster, user: str, groups: list[str]
) -> None:
    """summary: the total is the sum of the open recommendations (a dismissed one is not open)."""
    ns = cluster.namespace
    code, out, err = plugin(capsys, plane, ns, "summary", user=user, groups=groups)
    assert code == 0, err
    items = cluster.items(RECOMMENDATIONS)
    expected = sum(
        (
            Decimal(r["spec"]["monthlySavings"]["amount"])
            for r in items
            if r["status"]["state"] in OPEN_STATES
        ),
        Decimal(0),
    )
    match = TOTAL.search(out)
    assert match, out
    assert Decimal(match.group(1)) == expected.quantize(Decimal("0.01"))
    assert expected > 0
    assert f"{ns}/prod" in out  # the account row


def assert_explain(
    capsys: pytest.CaptureFixture[str],
    plane: ControlPlane,
    cluster: Cluster,
    name: str,
    *,
    user: str,
    groups: list[str],
    decided_by: str,
) -> None:
    """explain: the evidence in words (metric, days of data) and the recorded decision."""
    code, out, err = plugin(capsys, plane, cluster.namespace, "explain", name, user=user, groups=groups)
    assert code == 0, err
    spec = cluster.get(RECOMMENDATIONS, name)["spec"]
    for metric, summary in spec["evidence"]["metrics"].items():
        line = next((x for x in out.splitlines() if x.startswith(f"  evidence:   {metric}:")), None)
        assert line, out
        assert f"over {summary['daysWithData']} of {summary['lookbackDays']} days" in line
    assert f"  saves:      {spec['monthlySavings']['amount']} USD per month at list prices" in out
    decision = spec["decision"]
    assert f"  decision:   Approved by {decided_by} at {decision['decidedAt']}: idle for weeks" in out


def test_plugin_decides_summarises_and_explains(
    capsys: pytest.CaptureFixture[str],
    control_plane: ControlPlane,
    operators: OperatorFactory,
    cluster: Cluster,
    roles: None,
) -> None:
    ns = cluster.namespace
    admins, members = f"{ns}-admins", f"{ns}-members"
    bind_group(control_plane, ns, "cloudios-admin", admins)
    bind_group(control_plane, ns, "cloudios-member", members)
    admin, member = f"ada-{secrets.token_hex(3)}", f"mia-{secrets.token_hex(3)}"
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, policy("daily", max_recommendations=5))
    operators(ns)
    recs = scanned(cluster, "daily", 5)

    # The one to approve and explain has metric evidence (an idle or rightsize finding).
    with_metrics = [r for r in recs if (r["spec"].get("evidence") or {}).get("metrics")]
    assert with_metrics, [r["spec"]["module"] for r in recs]
    chosen = with_metrics[0]["metadata"]["name"]
    other = next(r["metadata"]["name"] for r in recs if r["metadata"]["name"] != chosen)

    # A member may read but not decide: RBAC refuses the patch, the plugin says which role is needed.
    code, out, err = plugin(capsys, control_plane, ns, "approve", chosen, user=member, groups=[members])
    assert code == 1, (out, err)
    assert err.startswith(f"error: forbidden: you may not change recommendation/{chosen} in namespace {ns}")
    assert "cloudios-admin or cloudios-owner" in err
    assert "decision" not in cluster.get(RECOMMENDATIONS, chosen)["spec"]

    # An admin approves; the webhook records the real identity, whatever the client claims.
    code, out, err = plugin(
        capsys,
        control_plane,
        ns,
        "approve",
        chosen,
        "--reason",
        "idle for weeks",
        user=admin,
        groups=[admins],
    )
    assert code == 0, err
    assert out == f"recommendation.cloudios.io/{chosen} approved (recorded for {admin})\n"
    decision = cluster.get(RECOMMENDATIONS, chosen)["spec"]["decision"]
    assert decision["type"] == "Approved"
    assert decision["decidedBy"] == admin
    assert decision["reason"] == "idle for weeks"
    assert decision["decidedAt"]

    # Dismiss with a reason.
    code, out, err = plugin(
        capsys, control_plane, ns, "dismiss", other, "--reason", "kept for DR", user=admin, groups=[admins]
    )
    assert code == 0, err
    dismissed = cluster.get(RECOMMENDATIONS, other)["spec"]["decision"]
    assert (dismissed["type"], dismissed["reason"], dismissed["decidedBy"]) == (
        "Dismissed",
        "kept for DR",
        admin,
    )
    state_is(cluster, chosen, "Approved")
    state_is(cluster, other, "Dismissed")

    assert_summary(capsys, control_plane, cluster, member, [members])
    assert_explain(capsys, control_plane, cluster, chosen, user=member, groups=[members], decided_by=admin)

    # Unknown names are a clear "not found", for reading and for deciding.
    code, out, err = plugin(
        capsys, control_plane, ns, "explain", "no-such-thing", user=member, groups=[members]
    )
    assert code == 1
    assert err == f"error: recommendation/no-such-thing not found in namespace {ns}\n"
    code, out, err = plugin(
        capsys, control_plane, ns, "approve", "no-such-thing", user=admin, groups=[admins]
    )
    assert code == 1
    assert "not found" in err
