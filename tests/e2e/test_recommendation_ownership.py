"""The operator owns Recommendations: forged objects are deleted and never counted, a forged status
is refused (webhook) or replaced (operator), a tampered spec is restored, whoever holds the rights."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import Any

import pytest
from kubernetes import client as k8s

from cloudios.api.names import CLOUD_ACCOUNT, PLURALS, RECOMMENDATION, SCAN_POLICY
from cloudios.cli import kubectl
from tests.e2e.harness import GROUP, VERSION, Cluster, OperatorFactory, eventually
from tests.e2e.manifests import ESTATE_ACCOUNT, SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES = PLURALS[CLOUD_ACCOUNT], PLURALS[SCAN_POLICY]
RECOMMENDATIONS = PLURALS[RECOMMENDATION]
TOTAL = re.compile(r"Total open savings: ([0-9]+\.[0-9]{2}) USD per month")


def forged(name: str, *, account_name: str = "prod") -> dict[str, Any]:
    """What someone the webhooks exempt could create: our labels, a real account, a huge saving."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Recommendation",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "cloudios", "cloudios.io/account": account_name},
        },
        "spec": {
            "accountRef": {"name": account_name},
            "policyRef": {"name": "daily"},
            "findingId": secrets.token_hex(10),
            "provider": "aws",
            "accountId": ESTATE_ACCOUNT,
            "region": "us-east-1",
            "resourceType": "ec2.instance",
            "resourceId": "i-0123456789abcdef0",
            "module": "aws.ec2.idle",
            "category": "idle",
            "action": "stop",
            "title": "Stop an instance nobody scanned",
            "confidence": "high",
            "monthlySavings": {"amount": "99999.00", "currency": "USD"},
            "priceBasis": "list",
        },
    }


def summary_total(capsys: pytest.CaptureFixture[str], plane: ControlPlane, namespace: str) -> Decimal:
    capsys.readouterr()
    assert kubectl.main(["--kubeconfig", str(plane.kubeconfig_path), "summary", "-n", namespace]) == 0
    match = TOTAL.search(capsys.readouterr().out)
    assert match
    return Decimal(match.group(1))


def status_writer(control_plane: ControlPlane, namespace: str) -> k8s.CustomObjectsApi:
    """A user who may patch recommendations/status by RBAC (a cluster admin, say), not the operator."""
    user = f"sam-{secrets.token_hex(3)}"
    rbac = k8s.RbacAuthorizationV1Api(control_plane.api_client())
    rule = k8s.V1PolicyRule(
        api_groups=[GROUP], resources=[RECOMMENDATIONS, f"{RECOMMENDATIONS}/status"], verbs=["get", "patch"]
    )
    rbac.create_namespaced_role(
        namespace, k8s.V1Role(metadata=k8s.V1ObjectMeta(name="status-writer"), rules=[rule])
    )
    rbac.create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name="status-writer"),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="status-writer"),
            subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=user)],
        ),
    )
    return k8s.CustomObjectsApi(control_plane.impersonating(user))


def test_the_operator_owns_its_recommendations(
    capsys: pytest.CaptureFixture[str],
    control_plane: ControlPlane,
    operators: OperatorFactory,
    cluster: Cluster,
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, policy("daily", max_recommendations=3))
    operators(cluster.namespace)

    def published() -> list[dict[str, Any]] | None:
        items = cluster.items(RECOMMENDATIONS)
        done = len(items) == 3 and all((r.get("status") or {}).get("firstSeen") for r in items)
        return items if done else None

    recs = eventually(published, timeout=90, what="3 recommendations published")
    legit = sum((Decimal(r["spec"]["monthlySavings"]["amount"]) for r in recs), Decimal(0))

    # Created by an identity the webhooks exempt (in these tests the operator's own, the admin):
    # the summary never counts it, and the operator deletes it.
    cluster.create(RECOMMENDATIONS, forged("aws-ec2-idle-forged00001"))
    assert summary_total(capsys, control_plane, cluster.namespace) == legit
    eventually(
        lambda: not cluster.exists(RECOMMENDATIONS, "aws-ec2-idle-forged00001"), what="forgery deleted"
    )
    # One naming an account that does not exist goes the same way.
    cluster.create(RECOMMENDATIONS, forged("aws-ec2-idle-forged00002", account_name="ghost"))
    eventually(lambda: not cluster.exists(RECOMMENDATIONS, "aws-ec2-idle-forged00002"), what="ghost deleted")
    assert ("Warning", "UnpublishedRecommendationDeleted") in [
        (e.type, e.reason) for e in cluster.events("aws-ec2-idle-forged00001")
    ]
    assert summary_total(capsys, control_plane, cluster.namespace) == legit

    # A state written through the status subresource by such an identity is replaced at once, and
    # a changed operator-owned spec field is restored from the store.
    target = recs[0]["metadata"]["name"]
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, cluster.namespace, RECOMMENDATIONS, target, {"status": {"state": "Verified"}}
    )
    cluster.patch(RECOMMENDATIONS, target, {"spec": {"monthlySavings": {"amount": "99999.00"}}})

    def restored() -> bool:
        found = cluster.get(RECOMMENDATIONS, target)
        return found["status"]["state"] == "Proposed" and found["spec"] == recs[0]["spec"]

    eventually(restored, what="state and spec restored")

    # Anyone else with rights on recommendations/status is refused by the webhook.
    as_user = status_writer(control_plane, cluster.namespace)
    eventually(
        lambda: as_user.get_namespaced_custom_object(
            GROUP, VERSION, cluster.namespace, RECOMMENDATIONS, target
        ),
        what="RBAC in effect",
    )
    with pytest.raises(k8s.ApiException) as refused:
        as_user.patch_namespaced_custom_object_status(
            GROUP, VERSION, cluster.namespace, RECOMMENDATIONS, target, {"status": {"state": "Verified"}}
        )
    assert refused.value.status == 403
    assert "status is written by the Cloudios operator only" in str(refused.value.body)
    assert cluster.get(RECOMMENDATIONS, target)["status"]["state"] == "Proposed"
