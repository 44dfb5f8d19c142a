"""The closed loop end to end: real API server, moto, the operator as a subprocess.

Two oversized m5.2xlarge instances get rightsizing Recommendations. One is approved; both are
resized in moto to the proposed m5.xlarge (the second without approval). The next run sees them
Applied. A rerun after an operator restart changes nothing. Then the emulator's metrics advance by
the policy's verification window (2 days of post-change data; the operator restarts with its scan
clock 3 days ahead, CLOUDIOS_SCAN_CLOCK_OFFSET_SECONDS) and the next run verifies them: the quiet one
is Verified with its realized saving, the one whose CPU now saturates the smaller size is Regressed,
with a Warning Event. Every transition is in the audit log with its evidence hash, and
`kubectl cloudios summary` shows estimated vs realized.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudios.cli import kubectl
from cloudios.emulators.aws.sample_estate import SAMPLE_AMI, _account_session
from cloudios.emulators.aws.series import MetricWriter
from cloudios.emulators.aws.server import start_moto_server
from cloudios.security.audit import load_chain_key
from cloudios.store.audit import SqlAuditLog
from tests.e2e.conftest import remove_webhooks
from tests.e2e.harness import Cluster, OperatorFactory, eventually, operator_env
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

POLICIES, RECOMMENDATIONS = "scanpolicies", "recommendations"
DAY = timedelta(days=1)
WINDOW_DAYS = 2
OFFSET = timedelta(days=WINDOW_DAYS + 1)  # the day of the change plus the window, whole days later


@dataclass
class Fleet:
    """A moto server with two oversized instances and their CloudWatch history."""

    url: str
    quiet: str
    busy: str
    session: Any
    account: str

    def resize(self, instance: str, instance_type: str) -> None:
        self.session.client("ec2", endpoint_url=self.url).modify_instance_attribute(
            InstanceId=instance, InstanceType={"Value": instance_type}
        )

    def cpu(self, instance: str, days: list[datetime], average: float, high: float) -> None:
        writer = MetricWriter(self.session.client("cloudwatch", endpoint_url=self.url))
        for day in days:
            writer.put_stats(
                "AWS/EC2", "CPUUtilization", [("InstanceId", instance)], day,
                samples=24, total=24 * average, low=average / 2, high=high,
            )  # fmt: skip
        writer.flush()


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    server = start_moto_server()
    try:
        # moto's backends live in the process, shared by every moto server the session starts: each
        # fleet gets an account of its own, so neither the e2e estate (seeded once into
        # ESTATE_ACCOUNT) nor an earlier test's fleet is scanned here, and nothing needs a reset.
        account_id = f"{secrets.randbelow(9 * 10**11) + 10**11}"
        session = _account_session(server.url, account_id, "us-east-1")
        ec2 = session.client("ec2", endpoint_url=server.url)
        ids = [
            ec2.run_instances(ImageId=SAMPLE_AMI, MinCount=1, MaxCount=1, InstanceType="m5.2xlarge")[
                "Instances"
            ][0]["InstanceId"]
            for _ in range(2)
        ]
        found = Fleet(server.url, ids[0], ids[1], session, account_id)
        today = _midnight(datetime.now(UTC))
        history = [today - DAY * d for d in range(14, 0, -1)]
        for instance in ids:  # 10-25 % on 8 vCPUs: fits half the size with headroom
            found.cpu(instance, history, average=15, high=25)
        yield found
    finally:
        server.stop()


@pytest.fixture
def loop_operators(
    control_plane: ControlPlane, fleet: Fleet, e2e_setup: dict[str, Path | str], tmp_path: Path
) -> Iterator[OperatorFactory]:
    tls = {k: Path(v) for k, v in e2e_setup.items() if k != "managed"}
    env = operator_env(control_plane, fleet.url, tls, str(e2e_setup["managed"]))
    factory = OperatorFactory(control_plane, tmp_path, env)
    try:
        with factory.guarding():
            yield factory
    finally:
        factory.stop_all()
        remove_webhooks(control_plane, str(e2e_setup["managed"]))
        print(factory.report())


def run_now(cluster: Cluster, token: str) -> None:
    cluster.patch(POLICIES, "loop", {"metadata": {"annotations": {"cloudios.io/run-now": token}}})
    eventually(
        lambda: (
            cluster.get(POLICIES, "loop")["metadata"]["annotations"].get("cloudios.io/run-now-handled")
            == token
        ),
        what=f"run-now {token} handled",
    )


def by_instance(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return {r["spec"]["resourceId"]: r for r in cluster.items(RECOMMENDATIONS, "cloudios.io/policy=loop")}


def status_of(cluster: Cluster, instance: str) -> dict[str, Any]:
    return dict(by_instance(cluster)[instance].get("status") or {})


def loop_view(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Each object's status but lastSeen (a scan that still finds the resource moves it) and spec."""
    return {
        i: {"spec": r["spec"], "status": {k: v for k, v in r["status"].items() if k != "lastSeen"}}
        for i, r in by_instance(cluster).items()
    }


def audited(workdir: Path, namespace: str) -> list[tuple[str, str, str]]:
    """(action, target, evidenceHash) of the operator's own Recommendation transitions (actors are
    stored as pseudonyms; ``readable`` maps them back)."""
    log = SqlAuditLog.sqlite(
        workdir / "data", chain_key=load_chain_key(workdir / "audit-keys" / "audit-chain.key")
    )
    try:
        return [
            (e.action, e.target, str(e.details.get("evidenceHash")))
            for e in log.readable(namespace)
            if e.actor == "system:cloudios-operator"
        ]
    finally:
        log.close()


def triggers(workdir: Path, namespace: str, name: str) -> list[Any]:
    """The state machine's triggers the audit entries of one object name (domain.lifecycle)."""
    log = SqlAuditLog.sqlite(
        workdir / "data", chain_key=load_chain_key(workdir / "audit-keys" / "audit-chain.key")
    )
    try:
        return [
            e.details.get("triggers")
            for e in log.readable(namespace)
            if e.actor == "system:cloudios-operator" and e.target == f"recommendations/{name}"
        ]
    finally:
        log.close()


def test_applied_then_verified_or_regressed(  # noqa: PLR0915, PLR0917 - one story, told in order
    loop_operators: OperatorFactory,
    cluster: Cluster,
    fleet: Fleet,
    control_plane: ControlPlane,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create("cloudaccounts", account("prod", account_id=fleet.account))
    spec_policy = policy("loop", schedule="0 6 1 1 *", modules=[{"name": "aws.ec2.rightsize"}])
    spec_policy["spec"]["closedLoop"] = {"verificationDays": WINDOW_DAYS}
    cluster.create(POLICIES, spec_policy)
    operator = loop_operators(cluster.namespace)
    recs = eventually(lambda: len(by_instance(cluster)) == 2 and by_instance(cluster), timeout=90,
                      what="two rightsizing recommendations")  # fmt: skip
    quiet = recs[fleet.quiet]
    assert quiet["spec"]["proposed"]["instanceType"] == "m5.xlarge"
    assert quiet["spec"]["monthlySavings"] == {"amount": "140.16", "currency": "USD"}
    cluster.patch(RECOMMENDATIONS, quiet["metadata"]["name"], {"spec": {"decision": {"type": "Approved"}}})
    eventually(lambda: status_of(cluster, fleet.quiet).get("state") == "Approved", what="Approved")

    # Someone resizes both: the approved one, and the other without asking.
    fleet.resize(fleet.quiet, "m5.xlarge")
    fleet.resize(fleet.busy, "m5.xlarge")
    run_now(cluster, "applied")
    applied = eventually(
        lambda: (
            all(status_of(cluster, i).get("state") == "Applied" for i in (fleet.quiet, fleet.busy))
            and by_instance(cluster)
        ),
        what="both Applied",
    )
    assert applied[fleet.quiet]["status"]["approved"] is True
    assert applied[fleet.busy]["status"]["approved"] is False
    assert applied[fleet.quiet]["status"]["outcome"]["observed"] == {"instanceType": "m5.xlarge"}
    assert applied[fleet.quiet]["status"]["outcome"]["baselineMonthlyCost"] == {
        "amount": "280.32",
        "currency": "USD",
    }
    assert "realizedMonthlySavings" not in applied[fleet.quiet]["status"]

    # A restart, then the same run again: nothing changes, nothing is audited twice.
    before = loop_view(cluster)
    entries = audited(tmp_path, cluster.namespace)
    operator.restart()
    run_now(cluster, "rerun-after-restart")
    assert loop_view(cluster) == before
    assert audited(tmp_path, cluster.namespace) == entries

    # The emulator's clock moves on by the window: two whole days after the change. The quiet one
    # stays quiet; the busy one saturates its halved CPU.
    today = _midnight(datetime.now(UTC))
    after = [today + DAY * d for d in range(1, WINDOW_DAYS + 1)]
    fleet.cpu(fleet.quiet, after, average=30, high=50)
    fleet.cpu(fleet.busy, after, average=85, high=99)
    operator.kill()
    operator.env["CLOUDIOS_SCAN_CLOCK_OFFSET_SECONDS"] = str(OFFSET.total_seconds())
    operator.start()
    run_now(cluster, "verify")
    verified = eventually(
        lambda: status_of(cluster, fleet.quiet).get("state") == "Verified" and by_instance(cluster),
        what="Verified",
    )
    status = verified[fleet.quiet]["status"]
    assert status["realizedMonthlySavings"] == {"amount": "140.16", "currency": "USD"}
    assert status["realized"]["basis"].startswith("list prices of the aws price book dated ")
    assert status["realized"]["postChangeDays"] == WINDOW_DAYS
    assert status["approved"] is True
    assert not [c for c in status.get("conditions") or [] if c["type"] == "Regressed"]

    hurt = verified[fleet.busy]
    (regressed,) = [c for c in hurt["status"].get("conditions") or [] if c["type"] == "Regressed"]
    assert (regressed["status"], regressed["reason"]) == ("True", "CpuSaturated")
    assert "99.0 percent vs threshold 90.0" in regressed["message"]
    warning = eventually(
        lambda: [
            e for e in cluster.events(hurt["metadata"]["name"]) if e.reason == "RecommendationRegressed"
        ],
        what="the RecommendationRegressed Event",
    )
    assert warning[0].type == "Warning"

    actions = audited(tmp_path, cluster.namespace)
    quiet_name = verified[fleet.quiet]["metadata"]["name"]
    assert [a for a, t, _ in actions if t == f"recommendations/{quiet_name}"] == [
        "lifecycle.applied",
        "lifecycle.verified",
    ]
    assert ("lifecycle.regressed", f"recommendations/{hurt['metadata']['name']}") in {
        (a, t) for a, t, _ in actions
    }
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for _, _, h in actions)
    assert triggers(tmp_path, cluster.namespace, quiet_name) == [["apply"], ["verify"]]

    # `kubectl cloudios summary`: estimated vs realized.
    capsys.readouterr()
    assert (
        kubectl.main(["--kubeconfig", str(control_plane.kubeconfig_path), "summary", "-n", cluster.namespace])
        == 0
    )
    out = capsys.readouterr().out
    assert "Verified savings by module: estimated vs realized" in out
    assert re.search(r"aws\.ec2\.rightsize\s*[│|]\s*280\.32\s*[│|]\s*280\.32", out), out
    loop_status = cluster.get(POLICIES, "loop")["status"]["closedLoop"]
    assert loop_status["verified"] == 2
    assert loop_status["regressed"] == 1
    assert loop_status["realizedMonthlySavings"] == {"amount": "280.32", "currency": "USD"}

    # Once more: the states are never set twice.
    before = loop_view(cluster)
    entries = audited(tmp_path, cluster.namespace)
    run_now(cluster, "again")
    assert loop_view(cluster) == before
    assert audited(tmp_path, cluster.namespace) == entries


def test_unseen_runs_expire_and_a_scan_that_sees_them_again_reopens(
    loop_operators: OperatorFactory, cluster: Cluster, fleet: Fleet, tmp_path: Path
) -> None:
    """A suspended account is not scanned: its Recommendations are neither resolved nor confirmed; after
    expireAfterUnseenScans such runs they are Expired (the approved one too), audited once."""
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create("cloudaccounts", account("prod", account_id=fleet.account))
    spec_policy = policy("loop", schedule="0 6 1 1 *", modules=[{"name": "aws.ec2.rightsize"}])
    spec_policy["spec"]["closedLoop"] = {"expireAfterUnseenScans": 2}
    cluster.create(POLICIES, spec_policy)
    operator = loop_operators(cluster.namespace)
    recs = eventually(lambda: len(by_instance(cluster)) == 2 and by_instance(cluster), timeout=90,
                      what="two rightsizing recommendations")  # fmt: skip
    approved = recs[fleet.quiet]["metadata"]["name"]
    cluster.patch(RECOMMENDATIONS, approved, {"spec": {"decision": {"type": "Approved"}}})
    eventually(lambda: status_of(cluster, fleet.quiet).get("state") == "Approved", what="Approved")

    cluster.patch("cloudaccounts", "prod", {"spec": {"suspend": True}})
    run_now(cluster, "unseen-1")
    states = {i: status_of(cluster, i).get("state") for i in (fleet.quiet, fleet.busy)}
    assert states == {fleet.quiet: "Approved", fleet.busy: "Proposed"}  # neither resolved nor confirmed
    operator.restart()  # the count is in the store: a restart in between changes nothing
    run_now(cluster, "unseen-2")
    expired = eventually(
        lambda: (
            all(status_of(cluster, i).get("state") == "Expired" for i in (fleet.quiet, fleet.busy))
            and by_instance(cluster)
        ),
        what="both Expired after two unseen runs",
    )
    outcome = expired[fleet.quiet]["status"]["outcome"]
    assert outcome["result"] == "Unseen"
    assert outcome["observed"] == {"unseenScans": 2, "reason": "account prod was skipped (Suspended)"}
    assert triggers(tmp_path, cluster.namespace, approved)[-1] == ["expire"]
    entries = audited(tmp_path, cluster.namespace)
    assert [a for a, t, _ in entries if t == f"recommendations/{approved}"].count("lifecycle.expired") == 1

    run_now(cluster, "unseen-3")  # Expired is left only by a scan that reports the finding again
    assert audited(tmp_path, cluster.namespace) == entries
    cluster.patch("cloudaccounts", "prod", {"spec": {"suspend": False}})
    run_now(cluster, "seen-again")
    eventually(lambda: status_of(cluster, fleet.busy).get("state") == "Proposed", what="reopened")
