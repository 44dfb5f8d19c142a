"""The verifier service wired to real parts for integration tests: the control plane (CRDs, a
ScanPolicy, its published Recommendations, the API key Secret), a SQLite store with a master key,
and the fake LLM server."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from prometheus_client import CollectorRegistry

from cloudios.api import ScanPolicy
from cloudios.api.names import LABEL_POLICY, RECOMMENDATION, SCAN_POLICY
from cloudios.api.objects import parse
from cloudios.security import keyset, tls
from cloudios.services import verifier
from cloudios.services.settings_verifier import VerifierSettings
from cloudios.sinks import recommendation_sync
from cloudios.sinks.conditions import Observation
from cloudios.sinks.kube import Kube
from cloudios.sinks.recommendation_objects import PolicyRef
from cloudios.sinks.verifier_http import VerifierClient
from cloudios.sinks.verifier_metrics import VerifierMetrics
from cloudios.store.sql import SqlRepository
from tests.support.controlplane import ControlPlane
from tests.support.fake_llm import ANTHROPIC_PATH, API_KEY, HOST_NAME, OPENAI_PATH, FakeLlm
from tests.support.verifier_estate import VerifierEstate
from tests.support.webhook_receiver import outward_address

CRDS = Path(__file__).resolve().parents[2] / "crds"
POLICY = "nightly"
SECRET = "llm-key"
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


@pytest.fixture
def fake_llm(tmp_path: Path) -> Iterator[FakeLlm]:
    address = outward_address()  # loopback is refused by the SSRF guard, so listen on a private address
    certs = tls.generate_certificate(tmp_path / "llm-tls", [HOST_NAME, address])
    found = FakeLlm(address, certs).start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def verifier_crds(control_plane: ControlPlane) -> ControlPlane:
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", CRDS)
    names = [f"crd/{plural}.cloudios.io" for plural in ("cloudaccounts", "scanpolicies", "recommendations")]
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    return control_plane


@dataclass
class Bench:
    """One namespace with a policy, its Recommendations and a verifier pointed at the fake LLM."""

    kube: Kube
    core: k8s.CoreV1Api
    namespace: str
    llm: FakeLlm
    store: SqlRepository
    estate: VerifierEstate
    data: Path
    settings: VerifierSettings
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    policy: ScanPolicy | None = None

    @cached_property
    def metrics(self) -> VerifierMetrics:
        return VerifierMetrics(self.registry)

    def counted(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, {"namespace": self.namespace, **labels}) or 0.0

    def service(self) -> verifier.Verifier:
        client = VerifierClient(
            ca_file=self.llm.certs.ca_file, max_response_bytes=self.settings.max_response_bytes
        )
        return verifier.Verifier(
            client=client, store=self.store, settings=self.settings, clock=lambda: T0, metrics=self.metrics
        )

    def secret(self, value: str = API_KEY, key: str = "apiKey") -> None:
        body = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=SECRET), string_data={key: value})
        self.core.create_namespaced_secret(self.namespace, body)

    def publish(self, provider: str = "openai", *, cap: int = 20, **spec: Any) -> ScanPolicy:
        """Create the ScanPolicy with spec.verifier and publish its Recommendations from the estate."""
        path = OPENAI_PATH if provider == "openai" else ANTHROPIC_PATH
        wanted: dict[str, Any] = {
            "provider": provider,
            "endpoint": self.llm.url(path),
            "model": "gpt-test" if provider == "openai" else "claude-test",
            "secretRef": {"name": SECRET},
            "minMonthlySavings": "0",
            "maxRecommendations": 100,
            "timeoutSeconds": 5,
        }
        wanted.update(spec)
        body = {
            "apiVersion": "cloudios.io/v1alpha1",
            "kind": "ScanPolicy",
            "metadata": {"name": POLICY, "namespace": self.namespace},
            "spec": {"maxRecommendations": cap, "verifier": wanted},
        }
        created = self.kube.create(SCAN_POLICY, self.namespace, body)
        ref = PolicyRef(self.namespace, POLICY, str(created["metadata"]["uid"]))
        recommendation_sync.sync(self.kube, ref, self.estate.found, cap=cap, floor=Decimal(0))
        self.policy = parse(created, ScanPolicy)
        return self.policy

    def verify(self) -> Observation:
        assert self.policy is not None
        service = self.service()
        try:
            return verifier.verify(service, self.kube, self.policy, self.estate.found)
        finally:
            service.client.close()

    def recommendations(self) -> dict[str, dict[str, Any]]:
        items = self.kube.items(RECOMMENDATION, self.namespace, label_selector=f"{LABEL_POLICY}={POLICY}")
        return {str(o["metadata"]["name"]): o for o in items}

    def untouched(self) -> dict[str, str]:
        """Per Recommendation: spec and status without status.verifier, as canonical JSON."""
        out = {}
        for name, obj in self.recommendations().items():
            status = copy.deepcopy(obj.get("status") or {})
            status.pop("verifier", None)
            out[name] = json.dumps([obj["spec"], status], sort_keys=True)
        return out

    def verdicts(self) -> dict[str, dict[str, Any]]:
        return {
            n: o["status"]["verifier"]
            for n, o in self.recommendations().items()
            if "verifier" in (o.get("status") or {})
        }


@pytest.fixture
def bench(
    verifier_crds: ControlPlane,
    namespace: str,
    fake_llm: FakeLlm,
    verifier_estate: VerifierEstate,
    tmp_path: Path,
) -> Iterator[Bench]:
    api = verifier_crds.api_client()
    data = tmp_path / "store"
    store = SqlRepository.sqlite(data, keyset=keyset.generate())
    settings = VerifierSettings(allow_private_namespaces=(namespace,), budget_seconds=60)
    kube = Kube(api, timeout=30)
    try:
        yield Bench(kube, k8s.CoreV1Api(api), namespace, fake_llm, store, verifier_estate, data, settings)
    finally:
        store.close()
