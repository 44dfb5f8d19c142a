"""e2e fixtures: CRDs on the real control plane, a seeded moto server, and operator subprocesses."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client as k8s

from cloudios.controller import decisions
from cloudios.emulators.aws.sample_estate import EstateTruth, seed_estate
from cloudios.emulators.aws.server import start_moto_server
from tests.e2e.harness import CRDS, PEERING_CRDS, Cluster, OperatorFactory, apply, operator_env
from tests.e2e.manifests import ESTATE_ACCOUNT
from tests.support.controlplane import ControlPlane

SEED_LOOKBACK_DAYS = 14


@dataclass(frozen=True)
class Estate:
    """A moto server with the sample estate seeded into ESTATE_ACCOUNT."""

    url: str
    truth: EstateTruth


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def estate() -> Iterator[Estate]:
    """Our own moto server (other suites reset the shared one), seeded once: ~15 s."""
    server = start_moto_server()
    try:
        truth = seed_estate(
            server.url,
            account_id=ESTATE_ACCOUNT,
            regions=("us-east-1",),
            scale=0.3,
            lookback_days=SEED_LOOKBACK_DAYS,
        )
        yield Estate(server.url, truth)
    finally:
        server.stop()


@pytest.fixture(scope="package")
def e2e_setup(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path | str]]:
    """CRDs (ours and kopf's peering), a webhook certificate, and a webhook configuration name.

    The decision webhooks are persistent (fail closed), so the configurations the test operators
    managed are deleted when the e2e package finishes (package scope, not session: the suites that
    run after it in the same session would otherwise hit a webhook whose server is gone).
    """
    apply(control_plane, CRDS)
    apply(control_plane, PEERING_CRDS)
    for crd in ("cloudaccounts", "scanpolicies", "recommendations"):
        control_plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd}.cloudios.io"
        )
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kopfpeerings.kopf.dev")
    work = tmp_path_factory.mktemp("e2e-tls")
    cert = decisions.generate_webhook_certificate(work, ["127.0.0.1"])
    managed = f"e2e-{secrets.token_hex(3)}.test.cloudios.io"
    yield {"cert": cert.cert_file, "key": cert.key_file, "ca": cert.ca_file, "managed": managed}
    remove_webhooks(control_plane, managed)


def remove_webhooks(control_plane: ControlPlane, managed: str) -> None:
    admission = k8s.AdmissionregistrationV1Api(control_plane.api_client())
    with contextlib.suppress(k8s.ApiException):
        admission.delete_mutating_webhook_configuration(managed)
    with contextlib.suppress(k8s.ApiException):
        admission.delete_validating_webhook_configuration(managed)


@pytest.fixture
def operators(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    estate: Estate,
    e2e_setup: dict[str, Path | str],
    tmp_path: Path,
) -> Iterator[OperatorFactory]:
    """Start operators with ``operators(namespace, name=..., **env)``; all stop after the test.

    On failure the tail of every operator's log is printed.
    """
    tls = {k: Path(v) for k, v in e2e_setup.items() if k != "managed"}
    env = operator_env(control_plane, estate.url, tls, str(e2e_setup["managed"]))
    factory = OperatorFactory(control_plane, tmp_path, env)
    try:
        with factory.guarding():
            yield factory
    finally:
        factory.stop_all()
        # Its webhooks are persistent (fail closed) and point at the stopped operator: remove them,
        # so a test that writes Recommendations or ScanPolicies before starting its own operator
        # (or none) is not refused by a server that is gone. The next operator registers them again.
        remove_webhooks(control_plane, str(e2e_setup["managed"]))
        failed = any(
            getattr(getattr(request.node, f"report_{when}", None), "failed", False)
            for when in ("setup", "call")
        )
        if failed:
            print(factory.report())


@pytest.fixture
def cluster(control_plane: ControlPlane, namespace: str) -> Cluster:
    return Cluster(control_plane.api_client(), namespace)
