"""The operator chart and the operator agree on variable names: every variable the Deployment sets is
a setting the operator reads, and the notification values reach CLOUDIOS_NOTIFY_* as meant. The
opt-in egress policy lets the webhooks (HTTPS) out and finds the API server by itself."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from cloudios.services.settings import NotifySettings, OperatorSettings
from tests.support.chart import CHART, KEY, VALUES, render
from tests.support.controlplane import CommandError, ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.helm]

# Everything that adds variables: PostgreSQL, scan Jobs, peering, backups, a receivers' CA.
BROADEST = (
    "-f", str(VALUES / "cloudios-everything.yaml"),
    "--set", "database.url=postgresql+psycopg://cloudios_app@db:5432/cloudios",
    "--set", "database.passwordSecretRef.name=db-app",
    "--set", "database.adminUrl=postgresql+psycopg://cloudios@db:5432/cloudios",
    "--set", "database.adminPasswordSecretRef.name=db-owner",
    "--set", "operator.scanExecutor=job",
    "--set", "operator.peering.enabled=true", "--set", "operator.peering.priority=10",
    "--set", "backup.bucket=cloudios-backups", "--set", "backup.endpointUrl=https://minio:9000",
    "--set", "backup.region=eu-west-1",
)  # fmt: skip


def variables(group: type[BaseSettings]) -> set[str]:
    """Every variable a settings group reads: its prefix plus each field, or the field's aliases."""
    prefix = str(group.model_config.get("env_prefix", ""))
    found: set[str] = set()
    for name, info in group.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            found |= variables(kind)
        elif isinstance(info.validation_alias, AliasChoices):
            found |= {str(choice) for choice in info.validation_alias.choices}
        elif isinstance(info.validation_alias, str):
            found.add(info.validation_alias)
        else:
            found.add(f"{prefix}{name}".upper())
    return found


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return found


def test_every_variable_the_chart_sets_is_one_the_operator_reads(control_plane: ControlPlane) -> None:
    read = variables(OperatorSettings)
    assert {
        "CLOUDIOS_NOTIFY_CA_FILE",
        "CLOUDIOS_EXECUTOR",
        "CLOUDIOS_MASTER_KEY_FILE",
    } <= read  # the walk works
    for args in ((*KEY,), BROADEST):
        names = {e["name"] for e in container(render(control_plane, *args))["env"]}
        chart = {n for n in names if n.startswith("CLOUDIOS_")}
        assert chart - read == set(), f"the chart sets variables the operator never reads: {chart - read}"
        assert names - chart <= {"HTTPS_PROXY", "NO_PROXY"}  # extraEnv of the values file
    assert container(render(control_plane, *KEY))["command"] == ["python", "-m", "cloudios.controller"]


def test_notification_values_reach_the_operators_settings(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    found = container(render(control_plane, "-f", str(VALUES / "cloudios-everything.yaml")))
    env = {e["name"]: e["value"] for e in found["env"] if "value" in e}
    # The pod's mounted files, recreated under tmp_path, so the settings load as in the pod.
    key = tmp_path / "keyset"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env |= {"CLOUDIOS_MASTER_KEY_FILE": str(key), "CLOUDIOS_NOTIFY_CA_FILE": str(ca),
            "CLOUDIOS_DATA_DIR": str(tmp_path)}  # fmt: skip
    mounts = {m["name"]: m["mountPath"] for m in found["volumeMounts"]}
    assert mounts["notify-ca"] == "/etc/cloudios/notify-ca"
    notify = OperatorSettings.from_env(env).notify
    assert notify == NotifySettings(
        interval_seconds=2.5, retry_hours=48, backoff_base_seconds=3, backoff_max_seconds=300,
        timeout_seconds=15, lease_seconds=90, batch=50, secret_overlap_hours=12,
        allow_private_namespaces=("team-a", "team-b"), tag_allow_list=("environment", "owner"), ca_file=ca,
    )  # fmt: skip
    assert notify.allows_private("team-b")
    assert not notify.allows_private("team-c")


def test_notification_defaults_are_the_operators(control_plane: ControlPlane) -> None:
    """The chart always sets the variables, so its defaults must be the operator's own."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())["notifications"]
    env = {e["name"]: e["value"] for e in container(render(control_plane, *KEY))["env"] if "value" in e}
    assert "CLOUDIOS_NOTIFY_CA_FILE" not in env  # no bundle: the system's CAs
    chart = NotifySettings.model_validate(
        {
            name.removeprefix("CLOUDIOS_NOTIFY_").lower(): value
            for name, value in env.items()
            if name.startswith("CLOUDIOS_NOTIFY_")
        }
    )
    assert chart == NotifySettings.model_validate({})
    assert values["tagAllowList"] == list(NotifySettings.model_fields["tag_allow_list"].default)


def endpoint_slice() -> dict[str, Any]:
    """A `kubernetes` EndpointSlice as a cluster's control plane keeps it. The test control plane has
    none (no endpoint reconciler, no controller-manager) and its loopback address may not be an
    endpoint, so the slice names a documentation address (RFC 5737)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.0.2.10"]}],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }  # fmt: skip


def test_the_egress_policy_finds_the_api_server_and_lets_webhooks_out(
    control_plane: ControlPlane, namespace: str
) -> None:
    egress = (*KEY, "--set", "networkPolicy.egress.enabled=true")
    # helm template cannot look the API server up: it says what to set.
    with pytest.raises(
        CommandError, match=r"networkPolicy\.egress\.apiServerCIDRs and .* could not be looked up"
    ):
        render(control_plane, *egress)
    # helm install --dry-run=server can: the addresses come from the cluster.
    slice_ = endpoint_slice()
    created = (
        control_plane.kubectl("create", "-f", "-", input=yaml.safe_dump(slice_), check=False).returncode == 0
    )
    try:
        # Without the cluster-wide objects other tests apply with kubectl (Helm would refuse to adopt them).
        alone = ("--set", "crds.install=false", "--set", "rbac.create=false")
        install = ("install", "eg", CHART, "--dry-run=server", "--namespace", namespace)
        result = control_plane.helm(*install, *egress, *alone)
        out = result.stdout.split("MANIFEST:", 1)[1].split("\nNOTES:", 1)[0]
    finally:
        if created:
            control_plane.kubectl("delete", "endpointslice", "kubernetes", "-n", "default", check=False)
    (policy,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "NetworkPolicy"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    api, dns, https = policy["spec"]["egress"]
    address = slice_["endpoints"][0]["addresses"][0]
    assert api == {"to": [{"ipBlock": {"cidr": f"{address}/32"}}],
                   "ports": [{"port": slice_["ports"][0]["port"], "protocol": "TCP"}]}  # fmt: skip
    assert {p["port"] for p in dns["ports"]} == {53}
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert {"ipBlock": {"cidr": "0.0.0.0/0"}} in https["to"]
    assert {"ipBlock": {"cidr": "::/0"}} in https["to"]
