"""The AI verifier's privacy promises, against a fake LLM server (a stand-in for the external API) that
records every request: nothing identifying leaves, the key only in its header, the tenant's objection
and the SSRF guard hold, and answers land on the Recommendations without changing anything else."""

from __future__ import annotations

import json

import pytest
from kubernetes import client as k8s

from cloudios.api.names import RECOMMENDATION
from cloudios.services import tenant_preferences
from cloudios.services.verifier_setup import api_key_name
from cloudios.sinks.verifier_summary import SCHEMA
from tests.support.fake_llm import ANTHROPIC_PATH, API_KEY, anthropic_body
from tests.support.moto import BASE_KEY_ID, BASE_SECRET
from tests.support.verifier_setup import Bench

pytestmark = [pytest.mark.cluster, pytest.mark.aws, pytest.mark.slow]
KEY_HEADERS = {"authorization", "x-api-key"}


def _leaks(bench: Bench) -> list[str]:
    """Every canary (or the API key) found in a request outside the key's own header."""
    canaries = {*bench.estate.canaries, BASE_KEY_ID, BASE_SECRET}
    found = []
    for got in bench.llm.received:
        body = got.body.decode()
        lowered = body.lower()
        found += [f"body: {c}" for c in canaries if c.lower() in lowered]
        if API_KEY in body:
            found.append("body: the API key")
        for name, value in got.headers.items():
            if name in KEY_HEADERS:
                continue
            found += [f"header {name}: {c}" for c in (*canaries, API_KEY) if c.lower() in value.lower()]
    return found


def test_nothing_identifying_leaves_and_every_answer_lands_on_its_recommendation(bench: Bench) -> None:
    bench.secret()
    bench.publish(cap=500)  # every priced finding: each kind of resource, identifier and address
    before = bench.untouched()
    priced = [
        f for f in bench.estate.found if f.finding.monthly_savings is not None and f.resolved_at is None
    ]
    assert len(before) == len(bench.estate.found) > 20

    ready = bench.verify()

    assert (ready.status, ready.reason) == ("True", "Verified"), ready.message
    assert len(bench.llm.received) == len(priced), "unpriced findings have no saving to weigh"
    assert _leaks(bench) == []
    assert all(got.headers["authorization"] == f"Bearer {API_KEY}" for got in bench.llm.received)
    questions = bench.llm.questions()
    assert {q["schema"] for q in questions} == {SCHEMA}
    assert all(q["resource"].startswith("r-") and q["account"].startswith("a-") for q in questions)
    assert len({q["resource"] for q in questions}) == len(questions), "one pseudonym per resource"
    assert len({q["account"] for q in questions}) == 1
    assert all("region" not in q and "title" not in q for q in questions)
    assert max(len(got.body) for got in bench.llm.received) <= bench.settings.max_request_bytes
    verdicts = bench.verdicts()
    assert len(verdicts) == len(priced)
    assert {v["verdict"] for v in verdicts.values()} == {"agree"}
    assert {v["model"] for v in verdicts.values()} == {"gpt-test"}
    assert bench.untouched() == before, "savings, state and spec are exactly as published"
    # The API key is kept only encrypted: readable through the keyring, absent from the database file.
    assert bench.store.get_secret(bench.namespace, api_key_name("nightly")) == API_KEY.encode()
    assert API_KEY.encode() not in (bench.data / "cloudios.db").read_bytes()


def test_answers_are_kept_so_the_same_evidence_is_not_asked_again_even_after_a_restart(bench: Bench) -> None:
    bench.secret()
    bench.publish(maxRecommendations=3)
    first = bench.verify()
    assert "wait for the next run" in first.message
    assert len(bench.llm.received) == 3
    pseudonyms = [q["resource"] for q in bench.llm.questions()]
    bench.verify()  # a fresh Verifier over the same store: what an operator restart sees
    assert len(bench.llm.received) == 6, "the next three, not the first three again"
    again = bench.llm.questions()[3:]
    assert not {q["resource"] for q in again} & set(pseudonyms)
    for obj in bench.recommendations().values():  # an object deleted and published again gets its answer back
        bench.kube.patch_status(RECOMMENDATION, bench.namespace, obj["metadata"]["name"], {"verifier": None})
    bench.verify()
    assert len(bench.llm.received) == 9
    assert len(bench.verdicts()) == 9, "the six known answers are shown again, three new ones asked"
    assert len({q["resource"] for q in bench.llm.questions()}) == 9


def test_the_anthropic_messages_shape_with_its_headers_and_tool_answer(bench: Bench) -> None:
    bench.llm.reply = lambda _got: (
        200, anthropic_body({"verdict": "disagree", "reason": "Peak CPU is close to the limit."}),
    )  # fmt: skip
    bench.secret()
    bench.publish(provider="anthropic", maxRecommendations=2)
    ready = bench.verify()
    assert ready.reason == "Verified", ready.message
    assert [got.path for got in bench.llm.received] == [ANTHROPIC_PATH] * 2
    for got in bench.llm.received:
        assert got.headers["x-api-key"] == API_KEY
        assert got.headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in got.headers
        body = json.loads(got.body)
        assert body["tool_choice"] == {"type": "tool", "name": "record_verdict"}
        assert body["messages"][0]["role"] == "user"
    assert _leaks(bench) == []
    assert [v["verdict"] for v in bench.verdicts().values()] == ["disagree", "disagree"]
    assert {v["reason"] for v in bench.verdicts().values()} == {"Peak CPU is close to the limit."}


def test_a_tenant_that_objects_is_never_asked_about(bench: Bench) -> None:
    bench.core.create_namespaced_config_map(
        bench.namespace,
        k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name=tenant_preferences.CONFIGMAP), data={"aiVerifier": "optOut"}
        ),
    )
    bench.secret()
    bench.publish()
    ready = bench.verify()
    assert (ready.status, ready.reason) == ("False", "TenantOptedOut")
    assert bench.llm.received == []
    assert bench.verdicts() == {}


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("https://169.254.169.254/v1/chat/completions", "cloud metadata service"),
        ("https://127.0.0.1:8443/v1/chat/completions", "loopback"),
        ("https://[fd00:ec2::254]/v1/messages", "cloud metadata service"),
    ],
)
def test_a_refused_endpoint_is_a_condition_and_nothing_is_sent(
    bench: Bench, endpoint: str, words: str
) -> None:
    bench.secret()
    bench.publish(endpoint=endpoint)
    ready = bench.verify()
    assert (ready.status, ready.reason) == ("False", "EndpointRefused")
    assert "spec.verifier.endpoint is refused" in ready.message
    assert words in ready.message
    assert bench.llm.received == []


def test_a_private_endpoint_needs_the_operator_s_allowance(bench: Bench) -> None:
    bench.settings = bench.settings.model_copy(update={"allow_private_namespaces": ()})
    bench.secret()
    bench.publish()
    ready = bench.verify()
    assert ready.reason == "EndpointRefused"
    assert "CLOUDIOS_VERIFIER_ALLOW_PRIVATE_NAMESPACES" in ready.message
    assert bench.llm.received == []


def test_a_missing_or_empty_secret_is_a_condition_naming_the_field(bench: Bench) -> None:
    bench.publish()
    missing = bench.verify()
    assert (missing.status, missing.reason) == ("False", "SecretUnusable")
    assert "spec.verifier.secretRef: Secret 'llm-key' does not exist" in missing.message
    bench.secret(key="other")
    wrong_key = bench.verify()
    assert "has no key 'apiKey'" in wrong_key.message
    assert bench.llm.received == []


def test_a_dismissed_recommendation_is_not_asked_about(bench: Bench) -> None:
    bench.secret()
    bench.publish(maxRecommendations=100)
    dismissed = min(bench.recommendations())
    decision = {"spec": {"decision": {"type": "Dismissed", "reason": "kept on purpose"}}}
    bench.kube.patch(RECOMMENDATION, bench.namespace, dismissed, decision)
    ready = bench.verify()
    assert "1 dismissed, not asked" in ready.message
    assert dismissed not in bench.verdicts()
    assert len(bench.llm.received) == len(bench.recommendations()) - 1
