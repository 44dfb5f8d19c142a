"""The Azure provider against the HTTPS emulator through the official SDKs: inventory, batching,
isolation, throttling, identities and the errors users see."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudios.domain import Metric
from cloudios.domain import azure as kinds
from cloudios.emulators.azure import sample
from cloudios.emulators.azure.server import AzureEmulator
from cloudios.modules import registry as modules
from cloudios.providers import registry as providers
from cloudios.providers.azure import collect as azure_collect
from cloudios.providers.azure.auth import AzureTuning
from cloudios.providers.base import CollectRequest, CollectResult, Credentials, ProviderError
from tests.support.azure import AzureIdentity, new_identity, serve, token_file

pytestmark = pytest.mark.azure

MODULES = modules.for_provider("azure")
KINDS = frozenset(k for m in MODULES for k in m.spec.resource_kinds)
NEEDS = tuple(n for m in MODULES for n in m.spec.metrics)
FAST = AzureTuning(retry_total=3, backoff_factor=0.01, backoff_max=1)


def subscription() -> str:
    return str(uuid.uuid4())


def collect(
    identity: AzureIdentity,
    sub: str,
    *,
    credentials: Credentials | None = None,
    secret_ref: bool = True,
    tuning: AzureTuning = FAST,
) -> CollectResult:
    request = CollectRequest(
        tenant="t",
        account_name="a",
        account=identity.spec(sub, secret_ref=secret_ref),
        lookback_days=30,
        kinds=KINDS,
        metrics=NEEDS,
        end=datetime.now(UTC),
        credentials=credentials,
    )
    return azure_collect.collect(request, tuning=tuning)


def test_inventory_attributes_and_metric_calls_at_the_lower_bound(azure_env: AzureEmulator) -> None:
    sub = subscription()
    estate = serve(azure_env, sample.generate(seed=101, scale=2.0, subscription=sub))
    identity = new_identity(azure_env, sub)
    before = len(azure_env.metrics_calls)
    result = collect(identity, sub, credentials=identity.credentials)
    snap = result.snapshot

    assert {r.id for r in snap.resources} == {r.id for r in estate.resources}
    assert {r.account_id for r in snap.resources} == {sub}
    by_id = {r.id: r for r in snap.resources}
    for source in estate.resources:
        found = by_id[source.id]
        assert found.kind == source.kind
        assert found.region == source.region
        for key in ("vmSize", "powerState", "diskState", "sku", "diskSizeGb", "allocationMethod"):
            if key in source.attributes:
                assert found.attr(key) == source.attributes[key], (source.id, key)
        if source.kind == kinds.LOAD_BALANCER:
            assert found.attr("backendTargets") == source.attributes["backendTargets"]
            assert found.attr("rules") == source.attributes["rules"]

    # One call per 50 VMs of one region (all four metrics in it): the lower bound.
    vms = Counter(r.region for r in estate.resources if r.kind == kinds.VM)
    lower_bound = sum(math.ceil(n / 50) for n in vms.values())
    assert max(vms.values()) > 50  # the bound is exercised with a partial second batch
    assert result.api_calls["monitor.MetricsList"] == lower_bound
    assert result.api_calls["resourcegraph.Resources"] == len(KINDS) + 1  # + the access check
    calls = azure_env.metrics_calls[before:]
    assert len(calls) == lower_bound
    assert all(c.resources <= 50 and c.namespace == "microsoft.compute/virtualmachines" for c in calls)
    assert {len(c.metrics) for c in calls} == {4}

    # Daily statistics came through: CPU of an idle VM, network totals, free memory with its minimum.
    idle = next(r for r in estate.resources if r.truth == "idle" and r.metrics)
    cpu = snap.metric(idle.id, Metric.CPU_UTILIZATION)
    assert cpu.days_with_data == 30
    assert all(d.p95 is None and d.samples == 1440 and d.maximum < 12 for d in cpu.daily)
    net = snap.metric(idle.id, Metric.NETWORK_IN_BYTES)
    assert all(d.sum is not None and d.sum > 0 for d in net.daily)
    memory = snap.metric(idle.id, Metric.MEMORY_AVAILABLE_BYTES)
    assert all(d.minimum is not None and d.minimum <= d.average for d in memory.daily)
    thin = next(
        r for r in estate.resources if r.metrics.get("percentage_cpu") and r.metrics["percentage_cpu"].days
    )
    assert snap.metric(thin.id, Metric.CPU_UTILIZATION).days_with_data == sample.THIN_DAYS


def test_two_subscriptions_scanned_concurrently_never_mix(azure_env: AzureEmulator) -> None:
    subs = [subscription(), subscription()]
    estates = [serve(azure_env, sample.generate(seed=7, scale=0.5, subscription=s)) for s in subs]
    identities = [new_identity(azure_env, s) for s in subs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda i: collect(identities[i], subs[i], credentials=identities[i].credentials), [0, 1])
        )
    for sub, estate, result in zip(subs, estates, results, strict=True):
        ids = {r.id for r in result.snapshot.resources}
        assert ids == {r.id for r in estate.resources}
        assert all(i.startswith(f"/subscriptions/{sub}/") for i in ids)
        assert {r.account_id for r in result.snapshot.resources} == {sub}
        assert set(result.snapshot.metrics) <= ids
        assert result.snapshot.account_id == sub
    # Each identity sees only its own subscription: crossing them is refused, not mixed.
    with pytest.raises(ProviderError) as caught:
        collect(identities[0], subs[1], credentials=identities[0].credentials)
    assert caught.value.reason == "SubscriptionNotAccessible"


def test_throttling_on_the_wire_recovers_with_backoff_and_stops_cleanly(azure_env: AzureEmulator) -> None:
    sub = subscription()
    serve(azure_env, sample.generate(seed=5, scale=0.3, subscription=sub))
    identity = new_identity(azure_env, sub)
    azure_env.throttle("graph", [429, 429])
    azure_env.throttle("metrics", [529, 429, 529])
    result = collect(identity, sub, credentials=identity.credentials)
    assert result.snapshot.resources
    assert result.api_calls["resourcegraph.Resources.retries"] == 2
    assert result.api_calls["monitor.MetricsList.retries"] == 3
    assert any(result.snapshot.metrics.values())

    azure_env.throttle("metrics", [529] * 50)  # more than every batch's retries together
    with pytest.raises(ProviderError) as caught:
        collect(identity, sub, credentials=identity.credentials)
    assert caught.value.reason == "Throttled"
    assert "529" in caught.value.message
    while azure_env.next_throttle("metrics") is not None:  # nothing left queued for later tests
        pass


def test_bad_credentials_and_missing_access_say_what_to_fix(azure_env: AzureEmulator) -> None:
    sub = subscription()
    serve(azure_env, sample.generate(seed=5, scale=0.1, subscription=sub))
    identity = new_identity(azure_env, sub)
    provider = providers.get("azure")
    spec = identity.spec(sub)
    assert sub in provider.probe(spec, identity.credentials, tenant="t", name="n", timeout=10)

    wrong = provider.credentials({"clientSecret": b"not-the-secret"}, secret="azure-sp", key=None)
    with pytest.raises(ProviderError) as caught:
        provider.probe(spec, wrong, tenant="t", name="n", timeout=10)
    assert caught.value.reason == "CredentialsInvalid"
    assert "AADSTS7000215" in caught.value.message
    assert "not-the-secret" not in caught.value.message

    stranger = new_identity(azure_env, subscription())
    with pytest.raises(ProviderError) as caught:
        provider.probe(stranger.spec(sub), stranger.credentials, tenant="t", name="n", timeout=10)
    assert caught.value.reason == "SubscriptionNotAccessible"
    assert stranger.client_id in caught.value.message

    with pytest.raises(ProviderError) as caught:
        provider.credentials({"other": b"x"}, secret="azure-sp", key=None)
    assert caught.value.reason == "SecretKeyMissing"
    assert "clientSecret" in caught.value.message


def test_workload_identity_without_a_secret(
    azure_env: AzureEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subscription()
    serve(azure_env, sample.generate(seed=9, scale=0.2, subscription=sub))
    identity = new_identity(azure_env, sub)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file(identity, tmp_path)))
    result = collect(identity, sub, secret_ref=False)
    assert result.snapshot.resources

    (tmp_path / f"token-{identity.client_id}").write_text("a-token-for-someone-else")
    with pytest.raises(ProviderError) as caught:
        collect(identity, sub, secret_ref=False)
    assert caught.value.reason == "CredentialsInvalid"
