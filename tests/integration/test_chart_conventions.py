"""Both charts with every convention value set (digest, extra args/env/volumes, probes, spread,
common labels, monitors, ...): each value shows in the objects and the API server accepts them; unknown
values are still refused by the strict schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import AGENT_CHART, CHART, VALUES, apply_crds_for_real, apply_stand_ins, dump
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.helm]
OPERATOR_VALUES = VALUES / "cloudios-everything.yaml"
AGENT_VALUES = VALUES / "cloudios-agent-everything.yaml"
DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
MONITORING = "monitoring"


def token_file(tmp_path: Path) -> Path:
    token = tmp_path / "cluster-token.txt"
    token.write_text("cat_0123456789abcdef\n")
    return token


def render(plane: ControlPlane, chart: Path, namespace: str, *args: str) -> list[dict[str, Any]]:
    out = plane.helm("template", "conv", chart, "--namespace", namespace, *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def operator_docs(plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    return render(plane, CHART, namespace, "-f", str(OPERATOR_VALUES))


def agent_docs(plane: ControlPlane, namespace: str, tmp_path: Path) -> list[dict[str, Any]]:
    token = token_file(tmp_path)
    return render(plane, AGENT_CHART, namespace, "-f", str(AGENT_VALUES), "--set-file", f"token={token}")


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def check_pod(deployment: dict[str, Any], selector: dict[str, str], probe_path: str) -> dict[str, Any]:
    """What both charts' values files set on the Deployment and its pod; returns the container."""
    assert deployment["spec"]["revisionHistoryLimit"] == 3
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "platform"
    assert template["metadata"]["annotations"]["example.com/scrape-note"] in {"operator", "agent"}
    pod = template["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["labelSelector"] == {"matchLabels": selector}
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    (container,) = pod["containers"]
    assert container["image"].endswith(f"@{DIGEST}")
    assert "ignored-because-of-the-digest" not in container["image"]
    liveness = container["livenessProbe"]
    assert liveness["httpGet"]["path"] == "/healthz"
    assert (liveness["initialDelaySeconds"], liveness["periodSeconds"]) == (20, 15)
    assert (liveness["timeoutSeconds"], liveness["failureThreshold"]) == (4, 5)
    assert container["readinessProbe"]["httpGet"]["path"] == probe_path
    assert container["readinessProbe"]["periodSeconds"] == 7
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert "enabled" not in container["startupProbe"]
    volumes = {v["name"] for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    extra = {"corporate-ca": "/etc/ssl/corporate", "scratch": "/var/tmp/scratch"}
    assert any(mounts.get(name) == path and name in volumes for name, path in extra.items())
    return container


def check_common_labels(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("team") == "platform", (doc["kind"], doc["metadata"]["name"])
        assert labels.get("cost-center") == "cc-42", (doc["kind"], doc["metadata"]["name"])


def check_monitor(monitor: dict[str, Any], namespace: str, endpoints: str) -> None:
    assert monitor["metadata"]["namespace"] == MONITORING
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [namespace]}
    (endpoint,) = monitor["spec"][endpoints]
    assert endpoint["honorLabels"] is True
    assert endpoint["relabelings"][0]["targetLabel"] == "node"
    assert endpoint["metricRelabelings"][0]["action"] == "drop"


def dry_run(plane: ControlPlane, docs: list[dict[str, Any]]) -> str:
    """Server-side dry-run of every object (each carries its namespace); returns kubectl's output."""
    plane.kubectl("create", "namespace", MONITORING, check=False)
    apply_stand_ins(plane)
    # Strict field validation: a misspelt or misplaced field in a template is an error, not a warning.
    result = plane.kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", input=dump(docs))
    return result.stdout


def test_operator_chart_with_every_convention_value(control_plane: ControlPlane, namespace: str) -> None:
    docs = operator_docs(control_plane, namespace)
    check_common_labels(docs)
    deployment = by_kind(docs, "Deployment")
    selector = {"app.kubernetes.io/name": "cloudios", "app.kubernetes.io/instance": "conv",
                "app.kubernetes.io/component": "operator"}  # fmt: skip
    container = check_pod(deployment, selector, "/readyz")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HTTPS_PROXY"] == "http://proxy.example.com:3128"
    assert env["CLOUDIOS_JOB_IMAGE"].endswith(f"@{DIGEST}")  # scan Jobs run the same pinned image
    check_monitor(by_kind(docs, "ServiceMonitor"), namespace, "endpoints")
    pod_monitor = by_kind(docs, "PodMonitor")
    check_monitor(pod_monitor, namespace, "podMetricsEndpoints")
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["authorization"]["credentials"]["name"] == (
        "prometheus-metrics-token"
    )
    policy = by_kind(docs, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    ports = [sorted({p["port"] for p in rule["ports"]}) for rule in policy["spec"]["egress"]]
    assert ports == [[6443], [53], [443], [5432]]
    apply_crds_for_real(control_plane, docs)
    out = dry_run(control_plane, docs)
    for created in (
        "deployment.apps/conv-cloudios",
        "servicemonitor.monitoring.coreos.com/conv-cloudios",
        "podmonitor.monitoring.coreos.com/conv-cloudios",
        "networkpolicy.networking.k8s.io/conv-cloudios",
        "configmap/conv-cloudios-notify-ca",
    ):
        assert f"{created} created (server dry run)" in out, out


def test_agent_chart_with_every_convention_value(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    docs = agent_docs(control_plane, namespace, tmp_path)
    check_common_labels(docs)
    deployment = by_kind(docs, "Deployment")
    selector = {"app.kubernetes.io/name": "cloudios-agent", "app.kubernetes.io/instance": "conv"}
    container = check_pod(deployment, selector, "/healthz")
    assert container["command"] == ["cloudios-agent"]
    assert container["args"] == ["--inventory-seconds=600", "--queue-batches=128"]
    assert {"name": "CLOUDIOS_AGENT_LOG_LEVEL", "value": "DEBUG"} in container["env"]
    check_monitor(by_kind(docs, "PodMonitor"), namespace, "podMetricsEndpoints")
    out = dry_run(control_plane, docs)
    assert "deployment.apps/conv-cloudios-agent created (server dry run)" in out, out
    assert "podmonitor.monitoring.coreos.com/conv-cloudios-agent created (server dry run)" in out, out


def test_helm_lint_strict_passes_with_every_convention_value(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    operator = control_plane.helm("lint", "--strict", CHART, "-f", str(OPERATOR_VALUES))
    assert "0 chart(s) failed" in operator.stdout
    token = token_file(tmp_path)
    agent = control_plane.helm(
        "lint", "--strict", AGENT_CHART, "-f", str(AGENT_VALUES), "--set-file", f"token={token}"
    )
    assert "0 chart(s) failed" in agent.stdout
    # Chart.yaml is complete: lint no longer recommends an icon.
    assert "icon is recommended" not in operator.stdout + agent.stdout


def test_the_agents_extra_args_are_flags_it_accepts(control_plane: ControlPlane, tmp_path: Path) -> None:
    """The flags in the values file parse (the agent refuses unknown ones), and win over variables."""
    from cloudios_agent import main as agent_main  # noqa: PLC0415 - the agent, as the container runs it

    (container,) = by_kind(agent_docs(control_plane, "agent", tmp_path), "Deployment")["spec"]["template"][
        "spec"
    ]["containers"]
    token = token_file(tmp_path)
    env = {"CLOUDIOS_AGENT_INGEST_URL": "https://ingest.example.com", "CLOUDIOS_AGENT_TOKEN_FILE": str(token),
           "CLOUDIOS_AGENT_SPOOL_DIR": str(tmp_path), "CLOUDIOS_AGENT_QUEUE_BATCHES": "2"}  # fmt: skip
    settings = agent_main.parse_settings(container["args"], env)
    assert settings.inventory_seconds == 600
    assert settings.queue_batches == 128
    with pytest.raises(SystemExit):
        agent_main.parse_settings(["--no-such-flag"], env)


@pytest.mark.parametrize(
    ("chart", "args", "message"),
    [
        (CHART, ("--set", "livenessProbe.path=/other"), "at '/livenessProbe': additional properties 'path'"),
        (CHART, ("--set", "metrics.podMonitor.colour=blue"), "additional properties 'colour' not allowed"),
        (CHART, ("--set", "image.digest=latest"), "at '/image/digest'"),
        (CHART, ("--set", "notifications.intervalSeconds=0"), "at '/notifications/intervalSeconds'"),
        (CHART, ("--set", "extraArgs={--verbose}"), "additional properties 'extraArgs' not allowed"),
        (CHART, ("--set", "revisionHistoryLimit=-1"), "at '/revisionHistoryLimit'"),
        (AGENT_CHART, ("--set", "podMonitor.colour=blue"), "additional properties 'colour' not allowed"),
        (AGENT_CHART, ("--set", "serviceMonitor.enabled=true"), "additional properties 'serviceMonitor'"),
        (AGENT_CHART, ("--set", "commonLabels.team=1"), "at '/commonLabels/team'"),
    ],
    ids=["probe-handler", "monitor-typo", "digest-not-a-digest", "interval-zero", "operator-has-no-flags",
         "negative-history", "agent-monitor-typo", "agent-has-no-service", "label-not-a-string"],
)  # fmt: skip
def test_the_strict_schema_still_refuses_unknown_or_mistyped_values(
    control_plane: ControlPlane, tmp_path: Path, chart: Path, args: tuple[str, ...], message: str
) -> None:
    required = ("-f", str(OPERATOR_VALUES)) if chart == CHART else (
        "-f", str(AGENT_VALUES), "--set-file", f"token={token_file(tmp_path)}")  # fmt: skip
    result = control_plane.helm("template", "conv", chart, *required, *args, check=False)
    assert result.returncode != 0, result.stdout[:2000]
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
