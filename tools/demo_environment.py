"""The operator demo's environment: emulators, a local control plane, the demo namespace and its objects.

Split from tools/demo_operator.py, which drives the demo on it (the operator and its steps)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.support (the control plane) lives next to tools/

import yaml  # noqa: E402
from kubernetes import client as k8s  # noqa: E402
from tests.support.controlplane import ControlPlane, ControlPlaneError, start_control_plane  # noqa: E402
from tools import demo_azure, demo_gcp, demo_kubernetes  # noqa: E402
from tools.demo_process import DemoError, Operator, progress  # noqa: E402

NAMESPACE = "team-demo"
SECRET = "demo-aws-credentials"
ADMINS, MEMBERS = "team-demo-admins", "team-demo-members"
GROUP, VERSION = "cloudios.io", "v1alpha1"
EXAMPLES = ROOT / "examples" / "demo"
CRDS = ROOT / "crds"
PEERING_CRDS = ROOT / "tests" / "support" / "kopf-peering-crds.yaml"
CHART = ROOT / "helm" / "cloudios"
# The emulator accepts any keys; these only have to look like AWS keys. Never real credentials.
DEMO_KEYS = {"aws_access_key_id": "cloudios-demo-emulator", "aws_secret_access_key": "demo-emulator-secret"}
DEMO_SEED, DEMO_REGIONS, DEMO_LOOKBACK_DAYS = 7, ("us-east-1", "eu-west-1"), 30
HEARTBEAT_SECONDS = 10
T = TypeVar("T")


@dataclass
class DemoEnvironment:
    """Everything the demo starts, stopped in reverse order by `close()`; the steps live in `Demo`."""

    workdir: Path
    deadline: float
    plane: ControlPlane | None = None
    moto_url: str = ""
    moto_stop: Callable[[], None] | None = None
    azure: demo_azure.AzureDemo | None = None
    gcp: demo_gcp.GcpDemo | None = None
    kubernetes: demo_kubernetes.KubernetesDemo | None = None
    operator: Operator | None = None
    custom: Any = None
    operator_env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the operator (tools/render_dashboard.py sets its metrics port)."""

    # -- helpers -----------------------------------------------------------------------------

    def kubectl(self, *args: str | os.PathLike[str], stdin: str | None = None) -> str:
        assert self.plane is not None
        return self.plane.kubectl(*args, input=stdin).stdout

    def plugin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`kubectl cloudios ...` (the kubectl-cloudios plugin) against the demo cluster."""
        assert self.plane is not None
        env = {**os.environ, "KUBECONFIG": str(self.plane.kubeconfig_path), "COLUMNS": "100"}
        result = subprocess.run(
            [sys.executable, "-m", "cloudios.cli.kubectl", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise DemoError(f"kubectl cloudios {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, name)  # type: ignore[no-any-return]

    def recommendations(self) -> list[dict[str, Any]]:
        listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "recommendations")
        return list(listed["items"])

    def wait(self, check: Callable[[], T | None], what: str, *, every: float = 1.0) -> T:
        """Poll until `check` returns something; a heartbeat line every 10 s; fail at the deadline."""
        last_note = time.monotonic()
        while True:
            if self.operator is not None:
                self.operator.check_alive()
            with contextlib.suppress(k8s.ApiException):
                if (result := check()) is not None:
                    return result
            now = time.monotonic()
            if now > self.deadline:
                raise DemoError(f"timed out waiting for {what} (raise it with --timeout)")
            if now - last_note >= HEARTBEAT_SECONDS:
                progress(f"  ... still waiting for {what}")
                last_note = now
            time.sleep(every)

    # -- set-up --------------------------------------------------------------------------------

    def start_emulator(self) -> threading.Thread:
        """moto in this process, seeded in a thread while the control plane starts."""
        from cloudios.emulators.aws import sample_estate, server  # noqa: PLC0415

        url, self.moto_stop = server.start_moto_server()
        self.moto_url = url
        progress(f"AWS emulator (moto) on {url}; seeding the sample estate in the background")
        failure: list[BaseException] = []

        def seed() -> None:
            try:
                truth = sample_estate.seed_estate(
                    url, seed=DEMO_SEED, regions=DEMO_REGIONS, lookback_days=DEMO_LOOKBACK_DAYS
                )
                progress(
                    f"seeded {len(truth.labels)} resources in account 123456789012 "
                    f"({', '.join(DEMO_REGIONS)}) with {DEMO_LOOKBACK_DAYS} days of CloudWatch metrics"
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                failure.append(exc)

        self.azure = demo_azure.start(self.workdir, NAMESPACE, {"env": "demo"})
        self.gcp = demo_gcp.start(NAMESPACE, {"env": "demo"})
        self.kubernetes = demo_kubernetes.start(self.workdir, NAMESPACE, {"env": "demo"})
        progress(
            "GCP emulator (Cloud Monitoring over gRPC/TLS, Compute and Cloud SQL over REST) on 127.0.0.1"
        )
        progress(
            f"Azure emulator (ARM, Resource Graph, metrics, Entra ID over HTTPS) on {self.azure.emulator.url}"
        )
        thread = threading.Thread(target=seed, name="seed-estate", daemon=True)
        thread.failure = failure  # type: ignore[attr-defined]
        thread.start()
        return thread

    def start_control_plane(self) -> None:
        progress("starting a local control plane (etcd + kube-apiserver, TLS and RBAC on loopback)")
        try:
            self.plane = start_control_plane(self.workdir / "controlplane")
        except ControlPlaneError as exc:
            raise DemoError(f"{exc}\n(run `make controlplane` first; `make demo` does)") from None
        self.custom = k8s.CustomObjectsApi(self.plane.api_client())
        progress(f"API server ready at {self.plane.server_url} ({self.plane.startup_seconds:.1f}s)")

    def install(self) -> None:
        """CRDs, kopf's peering CRDs, the chart's user roles, the namespace and its bindings."""
        assert self.plane is not None
        progress("applying the CRDs (crds/), kopf's peering CRDs and the cloudios-* ClusterRoles")
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", CRDS, "-f", PEERING_CRDS)
        roles = self.plane.helm(
            "template", "cloudios", CHART, "--namespace", "cloudios-system",
            "--set", "masterKey.existingSecret=cloudios-master-key",
            "--show-only", "templates/rbac-roles.yaml",
        ).stdout  # fmt: skip
        self.kubectl("apply", "--server-side", "-f", "-", stdin=roles)
        self.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s",
            *(f"crd/{p}.{GROUP}" for p in ("cloudaccounts", "scanpolicies", "recommendations")),
            "crd/kopfpeerings.kopf.dev",
        )  # fmt: skip
        self.kubectl("create", "namespace", NAMESPACE)
        for group, role in ((ADMINS, "cloudios-admin"), (MEMBERS, "cloudios-member")):
            self.kubectl(
                "create", "rolebinding", group, f"--clusterrole={role}", f"--group={group}", "-n", NAMESPACE
            )
        progress(f"namespace {NAMESPACE}: group {ADMINS} -> cloudios-admin, {MEMBERS} -> cloudios-member")
        core = k8s.CoreV1Api(self.plane.api_client())
        core.create_namespaced_secret(
            NAMESPACE, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=SECRET), string_data=DEMO_KEYS)
        )
        # The example account has no Secret reference (the CLI demo passes the emulator's keys
        # itself); in a cluster the operator reads them from this Secret.
        account = yaml.safe_load((EXAMPLES / "cloudaccount.yaml").read_text())
        account["spec"]["aws"]["credentialsSecretRef"] = {"name": SECRET}
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(account))
        progress(f"applied examples/demo/cloudaccount.yaml + credentialsSecretRef {SECRET} (dummy keys)")
        assert self.azure is not None
        core.create_namespaced_secret(
            NAMESPACE,
            k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=demo_azure.SECRET), string_data=self.azure.secret),
        )
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(self.azure.account))
        progress(f"applied CloudAccount {demo_azure.ACCOUNT} (azure, client secret in {demo_azure.SECRET})")
        assert self.gcp is not None
        core.create_namespaced_secret(
            NAMESPACE,
            k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=demo_gcp.SECRET), string_data=self.gcp.secret),
        )
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(self.gcp.account))
        progress(f"applied CloudAccount {demo_gcp.ACCOUNT} (gcp, service-account key in {demo_gcp.SECRET})")
        assert self.kubernetes is not None
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(self.kubernetes.account))
        progress(
            f"applied CloudAccount {demo_kubernetes.ACCOUNT} (kubernetes; the operator mints its agent token)"
        )

    def close(self) -> None:
        """Stop the operator, the emulator, the API server and etcd; keep the logs."""
        if self.operator is not None:
            self.operator.stop()
        if self.moto_stop is not None:
            with contextlib.suppress(Exception):
                self.moto_stop()
        if self.azure is not None:
            self.azure.emulator.stop()
        if self.gcp is not None:
            self.gcp.emulator.stop()
        if self.plane is not None:
            self.plane.stop()
            # etcd preallocates a 64 MB WAL; the logs next to it are what is worth keeping.
            shutil.rmtree(self.workdir / "controlplane" / "etcd-data", ignore_errors=True)
