"""The operator signs audit checkpoints into a ConfigMap on a timer; `verify --from-cluster` checks them."""

from __future__ import annotations

import argparse
import contextlib
import io
import sqlite3
from pathlib import Path

import pytest
from kubernetes import client as k8s

from cloudios.cli import audit as audit_cli
from cloudios.cli.commands import audit as audit_commands
from cloudios.security.audit import AuditEvent, load_chain_key
from cloudios.security.audit_verify import verify
from cloudios.security.checkpoints import Checkpoint, load_public_keys
from cloudios.store.audit import SqlAuditLog
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

CONFIGMAP = "cloudios-audit-checkpoints"


def latest_in(cluster: Cluster) -> Checkpoint:
    found = cluster.core.read_namespaced_config_map(CONFIGMAP, cluster.namespace)
    return Checkpoint.from_json(found.data["latest.json"])


def verify_from_cluster(plane: ControlPlane, work: Path, namespace: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="cloudios")
    audit_commands.add_parser(parser.add_subparsers(dest="command", required=True))
    argv = [
        "audit", "verify", "--from-cluster",
        "--kubeconfig", str(plane.kubeconfig_path),
        "--namespace", namespace,
        "--data-dir", str(work / "data"),
        "--chain-key", str(work / "audit-keys" / "audit-chain.key"),
        "--public-key", str(work / "audit-keys" / "audit-signing.pub"),
    ]  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = audit_cli.run(parser.parse_args(argv))
    return code, out.getvalue()


def test_the_operator_signs_checkpoints_into_a_configmap_and_truncation_is_caught(
    control_plane: ControlPlane, operators: OperatorFactory, cluster: Cluster, tmp_path: Path
) -> None:
    # No webhooks here (nothing to decide on, and no webhook configuration left behind for later
    # tests): the audit keys alone start the trail and its timer.
    operator = operators(
        cluster.namespace, CLOUDIOS_AUDIT_CHECKPOINT_INTERVAL_SECONDS="2", CLOUDIOS_WEBHOOK_ENABLED="false"
    )
    keys = tmp_path / "audit-keys"
    trusted = load_public_keys([keys / "audit-signing.pub"])
    chain_key = load_chain_key(keys / "audit-chain.key")

    # At start-up, even with nothing logged yet: checkpoint 1 over the empty log.
    first = eventually(lambda: latest_in(cluster), timeout=90, what="the first audit checkpoint")
    assert (first.index, first.last_seq) == (1, 0)
    assert verify([], [], trusted, chain_key, latest=first).ok  # signed with the Secret's key

    # Entries appended (as the decision webhook does) are checkpointed by the timer.
    log = SqlAuditLog.sqlite(tmp_path / "data", chain_key=chain_key)
    try:
        for i in range(5):
            log.append(AuditEvent(cluster.namespace, "ada@example.com", "recommendation.approved", f"r/{i}"))
        covered = eventually(
            lambda: (cp := latest_in(cluster)).last_seq == 5 and cp, timeout=60, what="a checkpoint of seq 5"
        )
        assert covered.prev_signature  # chained to the checkpoint before it
        assert operator.messages(r"audit checkpoint \d+ signed through seq 5")
        code, out = verify_from_cluster(control_plane, tmp_path, cluster.namespace)
        assert code == 0, out
        assert f"signed through seq 5 (ConfigMap {cluster.namespace}/{CONFIGMAP})" in out
        entries = len(log.entries())
    finally:
        log.close()
    assert entries == 5

    # A database attacker truncates the log and deletes the checkpoint rows that mention it; the
    # ConfigMap, outside the database, still vouches for seq 5.
    operator.stop()
    conn = sqlite3.connect(str(tmp_path / "data" / "cloudios.db"), isolation_level=None)
    try:
        for table in ("audit_events", "audit_checkpoints"):
            conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        conn.execute("DELETE FROM audit_events WHERE seq > 3")
        conn.execute("DELETE FROM audit_checkpoints WHERE last_seq > 3")
    finally:
        conn.close()
    code, out = verify_from_cluster(control_plane, tmp_path, cluster.namespace)
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 4"), out

    # Restarted, the operator refuses to sign over the disagreement instead of hiding it.
    operator.start()
    operator.wait_for_log(r"audit checkpoint failed: .*no checkpoint is signed on top of a disagreement")
    assert latest_in(cluster) == covered
    operator.stop()

    # Garbage in the ConfigMap is a failure too (exit 1), never a traceback or a usage error.
    cluster.core.patch_namespaced_config_map(CONFIGMAP, cluster.namespace, {"data": {"latest.json": "{oops"}})
    code, out = verify_from_cluster(control_plane, tmp_path, cluster.namespace)
    assert code == 1, out
    assert "unreadable checkpoint" in out


def test_the_operator_refuses_to_start_without_audit_keys(
    operators: OperatorFactory, cluster: Cluster
) -> None:
    operator = operators(cluster.namespace, CLOUDIOS_AUDIT_CHAIN_KEY_FILE="")
    operator.expected_alive = False
    assert operator.popen is not None
    assert operator.popen.wait(60) == 2
    assert "CLOUDIOS_AUDIT_CHAIN_KEY_FILE must be set" in operator.text()
    assert "Traceback" not in operator.text()
    with pytest.raises(k8s.ApiException):
        cluster.core.read_namespaced_config_map(CONFIGMAP, cluster.namespace)
