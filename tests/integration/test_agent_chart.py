"""The agent chart: lint, refusals, the exact read-only ClusterRole, pod security, dry-run, docs."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from cloudios_agent import main as agent_main
from cloudios_agent.history import BackfillSettings
from cloudios_agent.history_query import PrometheusSource
from tests.support.chart import ROOT, dump
from tests.support.controlplane import CommandError, ControlPlane

CHART = ROOT / "helm" / "cloudios-agent"
API = ("--set", "networkPolicy.apiServerCIDRs={10.0.0.1/32}", "--set", "networkPolicy.apiServerPorts={6443}")
pytestmark = [pytest.mark.cluster, pytest.mark.helm]

# Exactly what the agent may do, as (API group, resource, verb): docs/agent-install.md explains each.
GRANTED = {
    *((g, r, v) for g, rs in {
        "": ["pods", "nodes", "namespaces", "persistentvolumes", "persistentvolumeclaims", "services"],
        "discovery.k8s.io": ["endpointslices"],
        "apps": ["deployments", "statefulsets", "daemonsets", "replicasets"],
        "batch": ["jobs", "cronjobs"],
        "autoscaling": ["horizontalpodautoscalers"],
    }.items() for r in rs for v in ("list", "watch")),
    *(("metrics.k8s.io", r, v) for r in ("pods", "nodes") for v in ("get", "list")),
}  # fmt: skip


@pytest.fixture
def required(tmp_path: Path) -> tuple[str, ...]:
    token = tmp_path / "cluster-token.txt"
    token.write_text("cat_0123456789abcdef\n")
    return ("--set-file", f"token={token}", "--set", "ingest.url=https://ingest.example.com", *API)


def render(plane: ControlPlane, *args: str, namespace: str = "cloudios-agent") -> list[dict[str, Any]]:
    out = plane.helm("template", "agent", CHART, "--namespace", namespace, *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def render_fails(plane: ControlPlane, *args: str) -> str:
    result = plane.helm("template", "agent", CHART, *args, check=False)
    assert result.returncode != 0, result.stdout[:2000]
    return result.stderr


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("extra", [(), ("--strict",)], ids=["lint", "lint-strict"])
def test_lint_passes(control_plane: ControlPlane, required: tuple[str, ...], extra: tuple[str, ...]) -> None:
    result = control_plane.helm("lint", CHART, *required, *extra)
    assert "0 chart(s) failed" in result.stdout
    full = control_plane.helm("lint", CHART, *required, "--set", "prometheus.url=https://prom:9091",
                              "--set", "prometheus.serviceAccountToken=true", *extra)  # fmt: skip
    assert "0 chart(s) failed" in full.stdout


def test_rendering_without_a_token_fails_with_the_fix(control_plane: ControlPlane) -> None:
    err = render_fails(control_plane, "--set", "ingest.url=https://ingest.example.com", *API)
    assert "token is required" in err
    assert "--set-file token=cluster-token.txt" in err
    assert "existingTokenSecret.name" in err
    lint = control_plane.helm("lint", CHART, check=False)
    assert "token is required" in lint.stdout + lint.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "ingest.url=http://ingest.example.com"), "at '/ingest/url'"),
        (("--set", "ingest.url="), "ingest.url is required"),
        (("--set", "existingTokenSecret.name=mine"), "set either token or existingTokenSecret.name"),
        (("--set", "colour=blue"), "additional properties 'colour' not allowed"),
        (("--set", "prometheus.days=120"), "at '/prometheus/days'"),
        (("--set", "prometheus.url=http://prom:9090", "--set", "prometheus.serviceAccountToken=true"),
         "never sent in clear text"),
        (("--set", "ingest.ca=x", "--set", "ingest.existingCA.secret=y"), "at most one of ingest.ca"),
    ],
    ids=["http-ingest", "no-ingest", "two-tokens", "unknown-key", "too-many-days", "token-over-http",
         "two-cas"],
)  # fmt: skip
def test_values_are_checked(
    control_plane: ControlPlane, required: tuple[str, ...], args: tuple[str, ...], message: str
) -> None:
    assert message in render_fails(control_plane, *required, *args)


def test_networkpolicy_needs_the_api_server_address_when_it_cannot_look_it_up(
    control_plane: ControlPlane, required: tuple[str, ...]
) -> None:
    without_api = required[: -len(API)]
    assert "networkPolicy.apiServerCIDRs" in render_fails(control_plane, *without_api)
    docs = render(control_plane, *without_api, "--set", "networkPolicy.enabled=false")
    assert not [d for d in docs if d["kind"] == "NetworkPolicy"]


def test_the_cluster_role_grants_exactly_the_read_only_list(
    control_plane: ControlPlane, required: tuple[str, ...]
) -> None:
    docs = render(control_plane, *required)
    role = one(docs, "ClusterRole")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == GRANTED
    assert all(
        set(rule) == {"apiGroups", "resources", "verbs"} for rule in role["rules"]
    )  # no names, no URLs
    assert not {r for _, r, _ in granted} & {"secrets", "configmaps", "pods/log", "pods/exec", "*"}
    assert not {v for _, _, v in granted} - {"get", "list", "watch"}
    assert not [d for d in docs if d["kind"] in {"Role", "RoleBinding"}]
    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "agent-cloudios-agent",
                                    "namespace": "cloudios-agent"}]  # fmt: skip


def test_the_pod_is_small_restricted_and_gets_the_token_as_a_file(
    control_plane: ControlPlane, required: tuple[str, ...]
) -> None:
    docs = render(control_plane, *required, "--set-file", f"ingest.ca={ROOT / 'README.md'}")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"memory": "128Mi"},
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["CLOUDIOS_AGENT_TOKEN_FILE"] == "/etc/cloudios-agent/token/token"
    assert env["CLOUDIOS_AGENT_CA_FILE"] == "/etc/cloudios-agent/ingest-ca/ca.crt"
    assert not any("PROMETHEUS" in name for name in env)
    assert "cat_0123456789abcdef" not in json.dumps(deployment)  # the token only in its Secret
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["token"]["secret"]["secretName"] == "agent-cloudios-agent-token"
    assert volumes["spool"]["emptyDir"] == {"sizeLimit": "64Mi"}
    assert volumes["ingest-ca"]["configMap"]["name"] == "agent-cloudios-agent-ca"
    secret = one(docs, "Secret")
    assert secret["data"] == {"token": "Y2F0XzAxMjM0NTY3ODlhYmNkZWY="}  # trimmed of its newline


def test_existing_token_secret_and_ca_secret(control_plane: ControlPlane) -> None:
    docs = render(control_plane, "--set", "existingTokenSecret.name=cluster-token",
                  "--set", "existingTokenSecret.key=value", "--set", "ingest.url=https://i.example.com",
                  "--set", "ingest.existingCA.secret=ingest-ca", *API)  # fmt: skip
    assert not [d for d in docs if d["kind"] in {"Secret", "ConfigMap"}]
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["token"]["secret"]["secretName"] == "cluster-token"
    assert volumes["token"]["secret"]["items"] == [{"key": "value", "path": "token"}]
    assert volumes["ingest-ca"]["secret"]["secretName"] == "ingest-ca"


def test_network_policy_allows_only_the_api_server_dns_ingest_and_prometheus(
    control_plane: ControlPlane, required: tuple[str, ...]
) -> None:
    policy = one(render(control_plane, *required), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == []
    egress = policy["spec"]["egress"]
    assert [[p["port"] for p in rule["ports"]] for rule in egress] == [[6443], [53, 53], [443]]
    assert egress[0]["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    with_prometheus = one(
        render(control_plane, *required, "--set", "prometheus.url=http://prometheus.monitoring:9090",
               "--set", "ingest.url=https://ingest.example.com:8443"),
        "NetworkPolicy",
    )  # fmt: skip
    ports = [[p["port"] for p in rule["ports"]] for rule in with_prometheus["spec"]["egress"]]
    assert ports == [[6443], [53, 53], [8443], [9090]]


def test_rendered_chart_passes_server_side_dry_run_and_pod_security(
    control_plane: ControlPlane, namespace: str, required: tuple[str, ...]
) -> None:
    core = k8s.CoreV1Api(control_plane.api_client())
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    core.patch_namespace(namespace, {"metadata": {"labels": labels}})
    docs = render(control_plane, *required, "--set", "prometheus.url=https://prom:9091", namespace=namespace)
    result = control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump(docs))
    assert "deployment.apps/agent-cloudios-agent created (server dry run)" in result.stdout
    assert "networkpolicy.networking.k8s.io/agent-cloudios-agent created (server dry run)" in result.stdout
    assert "would violate PodSecurity" not in result.stderr, result.stderr
    template = one(docs, "Deployment")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {**template["metadata"], "name": "agent"},
           "spec": template["spec"]}  # fmt: skip
    control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump([pod]))
    pod["spec"]["containers"][0]["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    with pytest.raises(CommandError, match="violates PodSecurity"):
        control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump([pod]))


def test_the_bound_service_account_can_read_and_nothing_more(
    control_plane: ControlPlane, namespace: str, required: tuple[str, ...]
) -> None:
    docs = render(
        control_plane, *required, "--set", f"fullnameOverride=agent-{namespace}", namespace=namespace
    )
    rbac = [d for d in docs if d["kind"] in {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}]
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=dump(rbac))
    authz = k8s.AuthorizationV1Api(control_plane.api_client())
    user = f"system:serviceaccount:{namespace}:agent-{namespace}"

    def can(verb: str, group: str, resource: str, subresource: str = "") -> bool:
        attributes = k8s.V1ResourceAttributes(
            verb=verb, group=group, resource=resource, subresource=subresource or None, namespace="default"
        )
        spec = k8s.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", "system:authenticated"],
            resource_attributes=attributes,
        )
        review = k8s.V1SubjectAccessReview(spec=spec)
        return bool(authz.create_subject_access_review(review).status.allowed)

    try:
        for group, resource, verb in GRANTED:
            assert can(verb, group, resource), (verb, group, resource)
        for verb, group, resource, sub in [
            ("get", "", "secrets", ""), ("list", "", "secrets", ""), ("list", "", "configmaps", ""),
            ("get", "", "pods", "log"), ("create", "", "pods", "exec"), ("delete", "", "pods", ""),
            ("patch", "apps", "deployments", ""), ("get", "", "pods", ""), ("create", "", "events", ""),
            ("update", "apps", "deployments", "scale"), ("list", "metrics.k8s.io", "pods", "exec"),
        ]:  # fmt: skip
            assert not can(verb, group, resource, sub), (verb, group, resource, sub)
    finally:
        control_plane.kubectl("delete", "clusterrole,clusterrolebinding", f"agent-{namespace}", check=False)


def test_every_variable_the_readme_names_is_set_by_a_template() -> None:
    """The README's environment table is hand-written (its values table is generated and checked by
    tests/unit/test_chart_values.py): every CLOUDIOS_AGENT_* it names must be one a template sets."""
    readme = (CHART / "README.md").read_text()
    templates = " ".join(p.read_text() for p in (CHART / "templates").iterdir())
    names = re.findall(r"`(CLOUDIOS_AGENT_[A-Z_]+)`", readme)
    assert names
    for name in names:
        assert name in templates, f"README names {name}, which no template sets"


def test_every_variable_the_chart_sets_is_a_setting_the_agent_reads(
    control_plane: ControlPlane, required: tuple[str, ...], tmp_path: Path
) -> None:
    """The chart and the agent agree on names: each CLOUDIOS_AGENT_* the Deployment sets is parsed
    into the setting it is meant for, and the container's command is the agent's console script."""
    pem = tmp_path / "ca.pem"
    pem.write_text("not parsed by parse_settings\n")
    docs = render(
        control_plane, *required,
        "--set-file", f"ingest.ca={pem}", "--set-file", f"prometheus.ca={pem}",
        "--set", "prometheus.url=https://prometheus.monitoring:9091", "--set", "prometheus.days=30",
        "--set", "prometheus.concurrency=3", "--set", 'prometheus.selector=job="kubelet"',
        "--set", "prometheus.serviceAccountToken=true", "--set", "usage.sampleIntervalSeconds=15",
    )  # fmt: skip
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert container["command"] == ["cloudios-agent"]
    assert scripts["cloudios-agent"] == "cloudios_agent.main:main"
    assert "args" not in container
    env = {e["name"]: e["value"] for e in container["env"]}
    assert set(env) <= agent_main.variables(), set(env) - agent_main.variables()
    # The mounted paths, recreated under tmp_path, so parse_settings can check them as in the pod.
    local = {}
    for name, value in env.items():
        if value.startswith("/"):
            path = tmp_path / "pod" / value.lstrip("/")
            if name.endswith("_DIR"):
                path.mkdir(parents=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("cld_agt_token-or-pem\n")
            local[name] = str(path)
    settings = agent_main.parse_settings([], {**env, **local})
    assert settings.ingest_url == "https://ingest.example.com"
    assert settings.ca_file == Path(local["CLOUDIOS_AGENT_CA_FILE"])
    assert settings.sample_seconds == 15.0
    assert settings.spool_dir == Path(local["CLOUDIOS_AGENT_SPOOL_DIR"])
    assert settings.health_port == 8080
    assert settings.history is not None
    assert settings.history.source == PrometheusSource(
        "https://prometheus.monitoring:9091",
        ca_file=Path(local["CLOUDIOS_AGENT_PROMETHEUS_CA_FILE"]),
        token_file=Path(local["CLOUDIOS_AGENT_PROMETHEUS_TOKEN_FILE"]),
    )
    assert settings.history.backfill == BackfillSettings(days=30, concurrency=3, selector='job="kubelet"')
