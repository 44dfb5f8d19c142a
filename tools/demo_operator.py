"""`make demo`, part two: a local control plane, seeded AWS, GCP and Azure emulators, an agent-fed
Kubernetes cluster, the operator, an approval."""

from __future__ import annotations

import argparse
import base64
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.support (the control plane) lives next to tools/

from kubernetes import client as k8s  # noqa: E402
from tests.support.controlplane import CommandError, ControlPlaneError, find_binary, free_port  # noqa: E402
from tools import demo_kubernetes  # noqa: E402
from tools.demo_environment import ADMINS, EXAMPLES, MEMBERS, NAMESPACE, DemoEnvironment  # noqa: E402
from tools.demo_process import (  # noqa: E402
    LOG_TAIL,
    DemoError,
    Operator,
    elapsed,
    fresh_workdir,
    progress,
    show,
    shown,
    terminate_as_interrupt,
)

from cloudios.cli.audit import write_keys  # noqa: E402
from cloudios.controller import decisions  # noqa: E402

ACCOUNT, POLICY = "demo-aws", "demo-weekly"
ADMIN_USER, MEMBER_USER = "alice", "bob"


class Demo(DemoEnvironment):
    """The demo's story on its environment: the operator starts, accounts turn Ready, the cluster is fed,
    the first scan publishes Recommendations, a member is refused and an admin approves."""

    # -- steps -------------------------------------------------------------------------------

    def start_operator(self) -> None:
        assert self.plane is not None
        tls = decisions.generate_webhook_certificate(self.workdir / "webhook-tls", ["127.0.0.1"])
        chain_key, signing_key, _ = write_keys(self.workdir / "audit-keys")
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            {
                "KUBECONFIG": str(self.plane.kubeconfig_path),
                "AWS_ENDPOINT_URL": self.moto_url,
                # Credentials come only from the CloudAccount's Secret: no files, no metadata service.
                "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
                "AWS_EC2_METADATA_DISABLED": "true",
                "CLOUDIOS_NAMESPACES": NAMESPACE,
                "CLOUDIOS_DATA_DIR": str(self.workdir / "data"),
                "CLOUDIOS_LOG_FORMAT": "plain",
                "CLOUDIOS_SCHEDULER_INTERVAL_SECONDS": "2",
                # The decision webhooks: the API server calls back on loopback, so decisions are
                # stamped with the deciding user's identity and audited.
                "CLOUDIOS_WEBHOOK_ADDR": "127.0.0.1",
                "CLOUDIOS_WEBHOOK_PORT": str(free_port()),
                "CLOUDIOS_WEBHOOK_MANAGED": "demo.cloudios.io",
                "CLOUDIOS_WEBHOOK_CERT_FILE": str(tls.cert_file),
                "CLOUDIOS_WEBHOOK_KEY_FILE": str(tls.key_file),
                "CLOUDIOS_WEBHOOK_CA_FILE": str(tls.ca_file),
                # Decisions are audited: the chain and checkpoint keys, checkpoints outside the data dir.
                "CLOUDIOS_AUDIT_CHAIN_KEY_FILE": str(chain_key),
                "CLOUDIOS_AUDIT_SIGNING_KEY_FILE": str(signing_key),
                "CLOUDIOS_AUDIT_CHECKPOINT_DIR": str(self.workdir / "audit-checkpoints"),
                **(self.azure.environment if self.azure is not None else {}),
                **(self.gcp.environment if self.gcp is not None else {}),
                **(self.kubernetes.environment if self.kubernetes is not None else {}),
                **self.operator_env,
            }
        )
        self.operator = Operator(env, self.workdir / "operator.log")
        self.operator.start()
        progress(f"operator started (python -m cloudios.controller), log: {shown(self.operator.log_path)}")

    def wait_ready(self) -> None:
        progress(
            f"waiting for CloudAccount {ACCOUNT} Ready (AssumeRole + GetCallerIdentity against the emulator)"
        )

        def ready() -> dict[str, Any] | None:
            conditions = (self.get("cloudaccounts", ACCOUNT).get("status") or {}).get("conditions") or []
            found: dict[str, Any] | None = next((c for c in conditions if c.get("type") == "Ready"), None)
            if found and found["status"] == "True":
                return found
            if found and found["status"] == "False":  # a failed check is final until the next one
                raise DemoError(f"CloudAccount {ACCOUNT} is not Ready: {found['reason']}: {found['message']}")
            return None

        condition = self.wait(ready, f"CloudAccount {ACCOUNT} Ready")
        progress(f"CloudAccount {ACCOUNT} Ready: {condition['reason']}")

    def feed_cluster(self) -> None:
        """The cluster token from its Secret, then the cluster's recorded agent reports through ingest."""
        assert self.plane is not None
        assert self.kubernetes is not None
        core = k8s.CoreV1Api(self.plane.api_client())

        def token() -> str | None:
            data = core.read_namespaced_secret(demo_kubernetes.SECRET, NAMESPACE).data or {}
            return base64.b64decode(data["token"]).decode() if "token" in data else None

        found = self.wait(token, f"the agent token Secret {demo_kubernetes.SECRET}")
        progress(f"the operator wrote the cluster token into Secret {demo_kubernetes.SECRET}")
        reports = demo_kubernetes.recorded_reports(datetime.now(UTC))
        accepted = demo_kubernetes.send(self.kubernetes, found, reports)
        progress(
            f"sent {accepted} recorded agent reports (inventory + {demo_kubernetes.DAYS} days of usage) "
            f"to the operator's ingest at {self.kubernetes.url} (TLS 1.3, the cluster token)"
        )

        def reporting() -> str | None:
            conditions = (self.get("cloudaccounts", demo_kubernetes.ACCOUNT).get("status") or {}).get(
                "conditions"
            ) or []
            ready = next((c for c in conditions if c.get("type") == "Ready"), {})
            return ready.get("reason") if ready.get("status") == "True" else None

        progress(f"CloudAccount {demo_kubernetes.ACCOUNT} Ready: {self.wait(reporting, 'AgentReporting')}")

    def wait_scan(self, seeding: threading.Thread) -> list[dict[str, Any]]:
        self.wait(lambda: None if seeding.is_alive() else True, "the sample estate to be seeded")
        if failure := getattr(seeding, "failure", None):
            raise DemoError(f"seeding the sample estate failed: {failure[0]!r}")
        self.kubectl("apply", "-f", EXAMPLES / "scanpolicy.yaml")
        progress(f"applied examples/demo/scanpolicy.yaml; the operator scans {ACCOUNT} at its next tick")

        def scanned() -> list[dict[str, Any]] | None:
            status = self.get("scanpolicies", POLICY).get("status") or {}
            ready: dict[str, Any] = next(
                (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
            )
            if ready.get("reason") == "ScanFailed":
                raise DemoError(f"the scan failed: {ready.get('message')}")
            recs = self.recommendations()
            providers = {r["spec"].get("provider") for r in recs}
            wanted = {"aws", "azure", "gcp", "kubernetes"}
            return recs if status.get("lastRunTime") and wanted <= providers else None

        recs = self.wait(scanned, "the first scan and its Recommendations")
        progress(f"first scan done: {len(recs)} Recommendations in {NAMESPACE}")
        return recs

    def approve_top(self, recs: list[dict[str, Any]]) -> None:
        priced = [r for r in recs if r["spec"].get("monthlySavings")]  # unpriced ones have no figure
        top = max(priced, key=lambda r: Decimal(str(r["spec"]["monthlySavings"]["amount"])))
        name = top["metadata"]["name"]
        as_member = ["--as", MEMBER_USER, "--as-group", MEMBERS]
        as_admin = ["--as", ADMIN_USER, "--as-group", ADMINS]
        refused = self.plugin("approve", name, "-n", NAMESPACE, *as_member, check=False)
        if refused.returncode == 0:
            raise DemoError(f"{MEMBER_USER} (a member) could approve {name}: RBAC is not in force")
        show(
            f"kubectl cloudios approve {name} -n {NAMESPACE} {' '.join(as_member)}   # a member may not",
            refused.stdout + refused.stderr,
        )
        approved = self.plugin(
            "approve", name, "-n", NAMESPACE, "--reason", "checked with the owning team", *as_admin
        )
        show(f"kubectl cloudios approve {name} -n {NAMESPACE} {' '.join(as_admin)}", approved.stdout)

        def state() -> str | None:
            found = (self.get("recommendations", name).get("status") or {}).get("state")
            return found if found == "Approved" else None

        self.wait(state, f"{name} to reach state Approved", every=0.5)
        show(
            f"kubectl cloudios explain {name} -n {NAMESPACE}",
            self.plugin("explain", name, "-n", NAMESPACE).stdout,
        )


def run(args: argparse.Namespace) -> int:
    try:
        workdir = fresh_workdir(Path(args.workdir))
    except (DemoError, OSError) as exc:
        sys.stderr.write(f"operator demo failed: {exc}\n")
        return 1
    demo = Demo(workdir=workdir, deadline=time.monotonic() + args.timeout)
    code = 0
    with terminate_as_interrupt():
        try:
            progress("Cloudios operator demo: the same example manifests, now reconciled by the operator")
            seeding = demo.start_emulator()
            demo.start_control_plane()
            demo.install()
            demo.start_operator()
            demo.wait_ready()
            demo.feed_cluster()
            recs = demo.wait_scan(seeding)
            show(
                f"kubectl get cloudaccounts,scanpolicies,recommendations -n {NAMESPACE}",
                demo.kubectl("get", "cloudaccounts,scanpolicies,recommendations", "-n", NAMESPACE),
            )
            show(f"kubectl cloudios summary -n {NAMESPACE}", demo.plugin("summary", "-n", NAMESPACE).stdout)
            demo.approve_top(recs)
            progress(f"done in {elapsed():.0f}s; logs in {shown(workdir)}")
            if args.keep_running:
                keep_running(demo)
        except KeyboardInterrupt:
            progress("interrupted")
            code = 130
        except Exception as exc:  # noqa: BLE001 - every failure ends in one message and a clean-up
            known = isinstance(exc, DemoError | CommandError | ControlPlaneError)
            sys.stderr.write(f"\noperator demo failed: {exc if known else repr(exc)}\n")
            if demo.operator is not None:
                log = shown(demo.operator.log_path)
                sys.stderr.write(f"--- last {LOG_TAIL} lines of {log} ---\n{demo.operator.tail()}\n")
            code = 1
        finally:
            # A second Ctrl-C must not leave processes behind half-way through the clean-up.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            progress("stopping the operator, the emulator, the API server and etcd")
            demo.close()
            progress("stopped")
            signal.signal(signal.SIGINT, signal.default_int_handler)
    return code


def keep_running(demo: Demo) -> None:
    """Leave everything up for the user's own kubectl until Ctrl-C."""
    assert demo.plane is not None
    assert demo.operator is not None
    kubectl_dir = find_binary("kubectl").parent
    sys.stdout.write(
        "\nThe control plane, the emulator and the operator keep running. In another shell:\n"
        f"  export KUBECONFIG={demo.plane.kubeconfig_path}\n"
        f"  kubectl get cloudios -n {NAMESPACE}\n"
        f"  kubectl cloudios summary -n {NAMESPACE}\n"
        f"  kubectl annotate scanpolicy {POLICY} -n {NAMESPACE} cloudios.io/run-now=$(date +%s) --overwrite\n"
        f"  (kubectl is in {kubectl_dir}, kubectl-cloudios in {Path(sys.executable).parent})\n"
        "Press Ctrl-C to stop everything.\n"
    )
    sys.stdout.flush()
    while True:
        demo.operator.check_alive()
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave everything running until Ctrl-C (prints KUBECONFIG)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds until the demo gives up (default 300)"
    )
    parser.add_argument(
        "--workdir", default=str(ROOT / "out" / "operator-demo"), help="logs, certificates and the store"
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
