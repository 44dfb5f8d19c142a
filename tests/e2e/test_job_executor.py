"""executor=job end to end, with a STAND-IN FOR THE KUBELET because no container runtime runs here.

The test control plane is etcd + kube-apiserver only: no scheduler, no kubelet, no container
runtime, so a Job's pod never runs. ``StandInKubelet`` is the one mock of this suite and exists only
for that reason: it watches (polls) the Jobs labelled ``cloudios.io/scan-id`` in one namespace,
runs each Job's container command with its env as a local subprocess, with a kubeconfig holding a
real token of the pod's ServiceAccount (TokenRequest), as the mounted token would be, and writes the
Job's status as the Job controller would (Complete or Failed).
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tests.e2e.harness import ROOT, Cluster, OperatorFactory, eventually
from tests.e2e.manifests import BASE_KEY_ID, BASE_SECRET, SECRET_NAME, account, base_secret, policy
from tests.e2e.test_operator import wait_published
from tests.support.controlplane import ControlPlane, free_port
from tests.support.moto import IssuedCredentials, issued_credentials

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"
REGIONS = ["us-east-1", "us-west-2"]
SCAN_ID = "cloudios.io/scan-id"
SCAN_ACCOUNT = "cloudios-scan"
JOB_ENV = {
    "CLOUDIOS_EXECUTOR": "job",
    "CLOUDIOS_JOB_IMAGE": "cloudios:e2e",
    "CLOUDIOS_JOB_ALLOW_LOCAL_STORE": "true",
    "CLOUDIOS_JOB_SERVICE_ACCOUNT": SCAN_ACCOUNT,
}


def scan_identity(plane: ControlPlane, job_namespace: str) -> None:
    """The scan Jobs' ServiceAccount with what the chart's `<release>-scan` ClusterRole grants: get
    CloudAccounts and ScanPolicies. Secrets come only from the operator's per-run grant."""
    api = plane.api_client()
    k8s.CoreV1Api(api).create_namespaced_service_account(
        job_namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=SCAN_ACCOUNT))
    )
    rbac = k8s.RbacAuthorizationV1Api(api)
    name = f"{SCAN_ACCOUNT}-{job_namespace}"
    rbac.create_cluster_role(
        k8s.V1ClusterRole(
            metadata=k8s.V1ObjectMeta(name=name),
            rules=[
                k8s.V1PolicyRule(
                    api_groups=["cloudios.io"], resources=["cloudaccounts", "scanpolicies"], verbs=["get"]
                )
            ],
        )
    )
    rbac.create_cluster_role_binding(
        k8s.V1ClusterRoleBinding(
            metadata=k8s.V1ObjectMeta(name=name),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name),
            subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name=SCAN_ACCOUNT, namespace=job_namespace)],
        )
    )


def scan_token_may(plane: ControlPlane, job_namespace: str, attributes: dict[str, str]) -> bool:
    """Whether the scan ServiceAccount may do something (SubjectAccessReview by the API server)."""
    review = k8s.AuthorizationV1Api(plane.api_client()).create_subject_access_review(
        k8s.V1SubjectAccessReview(
            spec=k8s.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{job_namespace}:{SCAN_ACCOUNT}",
                groups=["system:serviceaccounts", f"system:serviceaccounts:{job_namespace}"],
                resource_attributes=k8s.V1ResourceAttributes(**attributes),
            )
        )
    )
    return bool(review.status.allowed)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class StandInKubelet:
    """Runs scan Jobs as local subprocesses and sets their status (see the module docstring)."""

    def __init__(
        self, plane: ControlPlane, namespace: str, *, fail: Callable[[dict[str, Any]], bool] | None = None
    ) -> None:
        api = plane.api_client()
        self.batch = k8s.BatchV1Api(api)
        self.core = k8s.CoreV1Api(api)
        self.plane = plane
        self.namespace = namespace
        self.fail = fail or (lambda _job: False)
        self.seen: set[str] = set()
        self.outputs: dict[str, str] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="stand-in kubelet", daemon=True)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(k8s.ApiException):
                listed = self.batch.list_namespaced_job(self.namespace, label_selector=SCAN_ID)
                for item in listed.items:
                    job: dict[str, Any] = self.batch.api_client.sanitize_for_serialization(item)
                    if job["metadata"]["name"] not in self.seen:
                        self.seen.add(job["metadata"]["name"])
                        self._run(job)
            self.stopping.wait(0.3)

    def _kubeconfig(self, job: dict[str, Any]) -> str:
        """A kubeconfig with a token of the pod's ServiceAccount, like the token the kubelet mounts."""
        account = job["spec"]["template"]["spec"].get("serviceAccountName") or "default"
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        )
        token = self.core.create_namespaced_service_account_token(
            account, self.namespace, request
        ).status.token
        admin = yaml.safe_load(self.plane.kubeconfig_path.read_text())
        admin["users"] = [{"name": "pod", "user": {"token": token}}]
        for context in admin["contexts"]:
            context["context"]["user"] = "pod"
        path = self.plane.workdir / f"pod-{job['metadata']['name']}.kubeconfig"
        path.write_text(yaml.safe_dump(admin))
        return str(path)

    def _env(self, container: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
        env = dict(_base_env())
        env["KUBECONFIG"] = self._kubeconfig(job)
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            ref = item["valueFrom"]["secretKeyRef"]
            try:
                data = self.core.read_namespaced_secret(ref["name"], self.namespace).data or {}
            except k8s.ApiException:
                data = {}
            if ref["key"] in data:
                env[item["name"]] = base64.b64decode(data[ref["key"]]).decode()
            elif not ref.get("optional"):
                raise RuntimeError(f"CreateContainerConfigError: {ref} missing")
        return env

    def _run(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        start = _now()
        ok = False
        if not self.fail(job):
            container = job["spec"]["template"]["spec"]["containers"][0]
            command = [sys.executable if container["command"][0] == "python" else container["command"][0]]
            done = subprocess.run(
                command + container["command"][1:],
                env=self._env(container, job),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            self.outputs[name] = done.stdout + done.stderr
            ok = done.returncode == 0
        self._finish(name, start, ok=ok)

    def _finish(self, name: str, start: str, *, ok: bool) -> None:
        # What the Job controller writes; the API server wants the *Target/SuccessCriteriaMet
        # condition before the terminal one, and startTime (plus completionTime on success).
        end = _now()
        if ok:
            conditions = [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastTransitionTime": end},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastTransitionTime": end},
            ]  # fmt: skip
            status = {"startTime": start, "completionTime": end, "succeeded": 1, "conditions": conditions}
        else:
            conditions = [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit", "lastTransitionTime": end},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit", "lastTransitionTime": end},
            ]  # fmt: skip
            status = {"startTime": start, "failed": 1, "conditions": conditions}
        self.batch.patch_namespaced_job_status(name, self.namespace, {"status": status})

    def jobs(self) -> list[dict[str, Any]]:
        listed = self.batch.list_namespaced_job(self.namespace, label_selector=SCAN_ID)
        return [self.batch.api_client.sanitize_for_serialization(j) for j in listed.items]

    @contextlib.contextmanager
    def running(self) -> Iterator[StandInKubelet]:
        self.thread.start()
        try:
            yield self
        finally:
            self.stopping.set()
            self.thread.join(30)


def _base_env() -> dict[str, str]:
    import os  # noqa: PLC0415 - only the image's environment a container would start with

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k in keep}


def two_region_account(name: str) -> dict[str, Any]:
    body = account(name)
    body["spec"]["aws"]["regions"] = list(REGIONS)
    return body


def wait_scanned(cluster: Cluster, policy_name: str, count: int) -> dict[str, Any]:
    """The policy once its last run succeeded and published ``count`` Recommendations."""

    def done() -> dict[str, Any]:
        found = cluster.get(POLICIES, policy_name)
        entries = (found.get("status") or {}).get("accounts") or []
        ok = entries and all(e["outcome"] == "Succeeded" for e in entries)
        return found if ok and len(savings(cluster, policy_name)) == count else {}

    return eventually(done, timeout=120, what=f"{count} recommendations of {policy_name}")


def savings(cluster: Cluster, policy_name: str) -> dict[str, str]:
    return {
        r["metadata"]["name"]: r["spec"]["monthlySavings"]["amount"]
        for r in cluster.items(RECOMMENDATIONS, f"cloudios.io/policy={policy_name}")
    }


def assert_shard_job(job: dict[str, Any], *, tenant: str, ops: str) -> None:
    """One shard Job as the operator should write it: labels, placement, pod security, no secrets."""
    meta = job["metadata"]
    assert meta["name"].startswith("scan-")
    assert meta["labels"]["cloudios.io/policy"] == "sharded"
    assert meta["labels"]["cloudios.io/account"] == "prod"
    assert meta["labels"]["cloudios.io/namespace"] == tenant
    assert meta["namespace"] == ops
    assert "ownerReferences" not in meta  # cannot cross namespaces; the TTL cleans up
    spec = job["spec"]
    assert spec["backoffLimit"] <= 2
    assert spec["ttlSecondsAfterFinished"] > 0
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"][:3] == ["python", "-m", "cloudios.services.job"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]
    text = json.dumps(job)
    assert BASE_SECRET not in text
    assert BASE_KEY_ID not in text
    # No credentials and no references to them: the job reads the Secret through the API.
    assert all("valueFrom" not in e for e in container.get("env") or [])


def test_job_executor_matches_in_process(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane, tmp_path: Path
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, two_region_account("prod"))

    # The reference: the in-process executor on the same estate.
    cluster.create(POLICIES, policy("inproc", max_recommendations=6))
    reference = operators(cluster.namespace, name="in-process", CLOUDIOS_METRICS_PORT=str(free_port()))
    wait_published(cluster, "inproc", 6)
    expected = savings(cluster, "inproc")
    cluster.delete(POLICIES, "inproc")  # the operator removes its Recommendations
    eventually(lambda: not cluster.items(RECOMMENDATIONS), what="reference recommendations removed")
    reference.stop()

    # As in a cluster: the operator runs in its own namespace and its Jobs run beside it, under its
    # ServiceAccount; the tenant namespace holds only the account, the policy and the Secret.
    ops = f"{cluster.namespace}-ops"
    k8s.CoreV1Api(control_plane.api_client()).create_namespace({"metadata": {"name": ops}})
    scan_identity(control_plane, ops)
    kubelet = StandInKubelet(control_plane, ops)
    issued_before = {c.access_key_id for c in issued_credentials()}
    with kubelet.running():
        cluster.create(POLICIES, policy("sharded", max_recommendations=6))
        operator = operators(
            cluster.namespace,
            name="job-executor",
            CLOUDIOS_METRICS_PORT=str(free_port()),
            CLOUDIOS_DATA_DIR=str(tmp_path / "job-store"),
            CLOUDIOS_NAMESPACE=ops,
            CLOUDIOS_LOG_LEVEL="DEBUG",  # the Jobs inherit it: debug detail, never the SDK's wire logs
            **JOB_ENV,
        )
        pol = wait_scanned(cluster, "sharded", 6)
        assert savings(cluster, "sharded") == expected, kubelet.outputs

        jobs = kubelet.jobs()
        assert sorted(j["metadata"]["labels"]["cloudios.io/region"] for j in jobs) == REGIONS
        (scan_id,) = {j["metadata"]["labels"][SCAN_ID] for j in jobs}
        for job in jobs:
            assert_shard_job(job, tenant=cluster.namespace, ops=ops)
            assert job["spec"]["template"]["spec"]["serviceAccountName"] == SCAN_ACCOUNT
        # The Jobs ran under their own identity, which can neither decide nor read other Secrets,
        # and the per-run grant of the account's one Secret is gone once the run ended.
        tenant = cluster.namespace
        decide = {"namespace": tenant, "group": "cloudios.io", "resource": "recommendations"}
        for verb in ("patch", "update", "create", "approve"):
            assert not scan_token_may(control_plane, ops, {**decide, "verb": verb})
        assert not scan_token_may(
            control_plane, ops, {"namespace": tenant, "verb": "list", "resource": "secrets"}
        )
        assert not scan_token_may(
            control_plane,
            ops,
            {"namespace": tenant, "verb": "get", "resource": "secrets", "name": SECRET_NAME},
        )
        roles = k8s.RbacAuthorizationV1Api(control_plane.api_client()).list_namespaced_role(
            tenant, label_selector="app.kubernetes.io/component=scan-grant"
        )
        assert roles.items == []
        assert pol["status"]["accounts"][0]["outcome"] == "Succeeded"
        assert (cluster.condition(ACCOUNTS, "prod", "Scanned") or {}).get("reason") == "ScanSucceeded"

        # A restarted operator in the same run slot finds the scan done: no new Jobs.
        operator.restart()
        time.sleep(6)
        assert len(kubelet.jobs()) == len(REGIONS)
        # Run-now is a new run: a new scan id, again one Job per region, the same Recommendations.
        cluster.patch(POLICIES, "sharded", {"metadata": {"annotations": {"cloudios.io/run-now": "again"}}})
        eventually(
            lambda: (
                cluster.get(POLICIES, "sharded")["metadata"]["annotations"].get("cloudios.io/run-now-handled")
                == "again"
            ),
            timeout=120,
            what="run-now handled",
        )
        by_scan: dict[str, int] = {}
        for job in kubelet.jobs():
            by_scan[job["metadata"]["labels"][SCAN_ID]] = (
                by_scan.get(job["metadata"]["labels"][SCAN_ID], 0) + 1
            )
        assert by_scan[scan_id] == len(REGIONS)
        assert sorted(by_scan.values()) == [len(REGIONS), len(REGIONS)]
        assert savings(cluster, "sharded") == expected
        assert BASE_SECRET not in operator.text()
    assert_no_credentials(
        "\n".join(kubelet.outputs.values()) + operator.text(),
        [c for c in issued_credentials() if c.access_key_id not in issued_before],
    )


def assert_no_credentials(printed: str, issued: list[IssuedCredentials]) -> None:
    """Debug logs of the operator and its Jobs: scan detail, but no wire log and no credential."""
    assert "DEBUG" in printed
    assert "cloudios.pipeline.scan" in printed
    assert "botocore" not in printed
    assert issued  # the Jobs and the operator's health checks assumed the role
    for creds in issued:
        for secret in (creds.access_key_id, creds.secret_access_key, creds.session_token):
            assert secret not in printed
    assert BASE_SECRET not in printed


def test_failed_shard_marks_the_account_without_crash_loop(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, two_region_account("prod"))
    scan_identity(control_plane, cluster.namespace)
    kubelet = StandInKubelet(
        control_plane,
        cluster.namespace,
        fail=lambda job: job["metadata"]["labels"]["cloudios.io/region"] == "us-west-2",
    )
    with kubelet.running():
        cluster.create(POLICIES, policy("sharded"))
        operator = operators(cluster.namespace, CLOUDIOS_METRICS_PORT=str(free_port()), **JOB_ENV)
        assert all(
            j["metadata"]["ownerReferences"][0]["kind"] == "ScanPolicy"
            for j in eventually(kubelet.jobs, what="shard jobs in the tenant namespace")
        )
        scanned = cluster.wait_condition(ACCOUNTS, "prod", "Scanned", "False", timeout=120)
        assert scanned["reason"] == "BackoffLimitExceeded"
        assert "us-west-2" in scanned["message"]
        ready = cluster.wait_condition(POLICIES, "sharded", "Ready", "False", reason="ScanFailed")
        assert "BackoffLimitExceeded" in ready["message"]
        time.sleep(6)  # long enough for a crash loop or a retry storm to show
        assert operator.alive()
        assert len(kubelet.jobs()) == len(REGIONS)
        assert not operator.errors()
