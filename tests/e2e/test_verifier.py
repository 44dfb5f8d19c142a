"""The AI verifier end to end: a real scan by the operator on the real control plane asks a fake LLM
server (a stand-in for the external API, which cannot run here) about the published Recommendations,
and the verdict shows on each of them; nothing identifying is in what was sent."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import ESTATE_ACCOUNT, SECRET_NAME, account, base_secret, policy
from tests.support.fake_llm import API_KEY, FakeLlm

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"


def with_verifier(endpoint: str) -> dict[str, Any]:
    body = policy("daily", max_recommendations=3)
    body["spec"]["verifier"] = {
        "provider": "openai",
        "endpoint": endpoint,
        "model": "gpt-test",
        "secretRef": {"name": "llm-key"},
        "minMonthlySavings": "0",
    }
    return body


def test_a_scan_asks_the_verifier_and_each_recommendation_shows_its_verdict(
    operators: OperatorFactory, cluster: Cluster, fake_llm: FakeLlm
) -> None:
    cluster.secret("llm-key", {"apiKey": API_KEY})
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, with_verifier(fake_llm.url()))
    operator = operators(
        cluster.namespace,
        CLOUDIOS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        CLOUDIOS_VERIFIER_ALLOW_PRIVATE_NAMESPACES=cluster.namespace,
        CLOUDIOS_VERIFIER_CA_FILE=str(fake_llm.certs.ca_file),
    )

    ready = cluster.wait_condition(POLICIES, "daily", "VerifierReady", "True", reason="Verified", timeout=180)
    assert "answers this run: 3 agree" in ready["message"]
    assert cluster.condition(POLICIES, "daily", "Ready")["reason"] == "ScanSucceeded"

    def verdicts() -> list[dict[str, Any]] | None:
        found = [(r.get("status") or {}).get("verifier") for r in cluster.items(RECOMMENDATIONS)]
        return found if len(found) == 3 and all(found) else None

    shown = eventually(verdicts, timeout=60, what="status.verifier on the three Recommendations")
    assert {v["verdict"] for v in shown} == {"agree"}
    assert {v["model"] for v in shown} == {"gpt-test"}
    assert all(v["reason"] == "The metrics support the change." and v["askedAt"] for v in shown)
    for rec in cluster.items(RECOMMENDATIONS):
        assert rec["status"]["state"] == "Proposed"  # a verdict decides nothing
        assert rec["spec"]["monthlySavings"]["amount"]
    assert len(fake_llm.received) == 3
    sent = b"".join(got.body for got in fake_llm.received).decode()
    identifiers = {ESTATE_ACCOUNT, *(r["spec"]["resourceId"] for r in cluster.items(RECOMMENDATIONS))}
    assert [i for i in identifiers if i in sent] == []
    assert API_KEY not in sent
    assert all(got.headers["authorization"] == f"Bearer {API_KEY}" for got in fake_llm.received)
    event = eventually(
        lambda: next((e for e in cluster.events("daily") if e.reason == "Verified"), None),
        timeout=30,
        what="the Verified Event on the ScanPolicy",
    )
    assert event.type == "Normal"
    assert "verifier asked 3" in operator.text()
    assert API_KEY not in operator.text()
    assert API_KEY not in str(cluster.get(POLICIES, "daily")) + str(
        [e.message for e in cluster.events("daily")]
    )


def test_a_metadata_service_endpoint_is_refused_at_admission(
    operators: OperatorFactory, cluster: Cluster
) -> None:
    operators(cluster.namespace)
    body = with_verifier("https://169.254.169.254/v1/chat/completions")

    def refused() -> str | None:
        try:
            cluster.create(POLICIES, body)
        except k8s.ApiException as exc:
            return str(exc.body)
        cluster.delete(POLICIES, "daily")  # the webhook was not registered yet (it fails open)
        return None

    message = eventually(refused, timeout=60, what="admission refusing the metadata endpoint")
    assert "spec.verifier.endpoint is refused: 169.254.169.254 is a cloud metadata service address" in message


def test_a_scan_succeeds_when_the_verifier_is_down_and_says_so_in_a_condition(
    operators: OperatorFactory, cluster: Cluster, fake_llm: FakeLlm
) -> None:
    fake_llm.stop()  # nothing listens at the endpoint any more
    cluster.secret("llm-key", {"apiKey": API_KEY})
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, with_verifier(fake_llm.url()))
    operators(
        cluster.namespace,
        CLOUDIOS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        CLOUDIOS_VERIFIER_ALLOW_PRIVATE_NAMESPACES=cluster.namespace,
        CLOUDIOS_VERIFIER_CA_FILE=str(fake_llm.certs.ca_file),
    )
    failed = cluster.wait_condition(
        POLICIES, "daily", "VerifierReady", "False", reason="RequestFailed", timeout=180
    )
    assert "3 question(s) got no answer (asked again next run)" in failed["message"]
    assert cluster.condition(POLICIES, "daily", "Ready")["reason"] == "ScanSucceeded"
    assert len(cluster.items(RECOMMENDATIONS)) == 3
    assert all("verifier" not in (r.get("status") or {}) for r in cluster.items(RECOMMENDATIONS))
    warning = eventually(
        lambda: next((e for e in cluster.events("daily") if e.reason == "RequestFailed"), None),
        timeout=30,
        what="the RequestFailed Event on the ScanPolicy",
    )
    assert warning.type == "Warning"
