"""Entry point of the Azure provider: one subscription's inventory and metric summaries.

``collect(request)`` builds the account's credential and ARM clients (``auth``), checks that the
identity can read the subscription (Resource Graph returns no rows, not an error, when it cannot),
runs one Resource Graph query per needed kind, then the metrics batches, on a ``ThreadPoolExecutor`` of
``request.max_concurrency`` workers (each worker thread has its own clients; the credential and its
token cache are shared). Everything in the result is tagged from the request, never from what Azure
answered, so two subscriptions scanned at once cannot mix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from cloudios.api.cloudaccount import AzureAccount
from cloudios.domain import Metric, Provider, Snapshot
from cloudios.providers.azure import inventory, metrics
from cloudios.providers.azure.auth import AccountClients, AzureTuning, CallCounter, Cloud, token_credential
from cloudios.providers.azure.credentials import AzureClientSecret
from cloudios.providers.base import CollectRequest, CollectResult, Credentials, ProviderError

T = TypeVar("T")


def account_block(request_account: object) -> AzureAccount:
    azure = getattr(request_account, "azure", None)
    if not isinstance(azure, AzureAccount):
        raise ProviderError("InvalidAccount", "the CloudAccount has no spec.azure block")
    return azure


def secret_of(credentials: Credentials | None) -> AzureClientSecret | None:
    """The request's credentials: the Azure provider's own, or None (the operator's identity)."""
    if credentials is None or isinstance(credentials, AzureClientSecret):
        return credentials
    raise ProviderError("InvalidCredentials", "the Azure provider was handed another provider's credentials")


def clients_for(
    azure: AzureAccount, credentials: Credentials | None, tuning: AzureTuning, counter: CallCounter
) -> AccountClients:
    cloud = Cloud.from_environment()
    credential = token_credential(azure, secret_of(credentials), cloud)
    return AccountClients(azure=azure, credential=credential, cloud=cloud, tuning=tuning, counter=counter)


def collect(request: CollectRequest, *, tuning: AzureTuning | None = None) -> CollectResult:
    """Inventory ``request.kinds`` and summarize ``request.metrics`` for one subscription."""
    azure = account_block(request.account)
    tuning = tuning or AzureTuning()
    counter = CallCounter()
    warnings: list[str] = []
    unknown = sorted(request.kinds - inventory.KNOWN_KINDS)
    if unknown:
        warnings.append(f"the Azure provider does not inventory {', '.join(unknown)}; skipped")
    kinds = sorted(request.kinds & inventory.KNOWN_KINDS)
    needs: dict[str, list[Metric]] = {}
    for need in request.metrics:
        if need.kind in kinds and need.metric not in needs.setdefault(need.kind, []):
            needs[need.kind].append(need.metric)
    clients = clients_for(azure, request.credentials, tuning, counter)
    # Resource Graph answers an unreadable subscription with no rows; say so instead of "no waste".
    inventory.probe(clients)
    start, end = metrics.window(request.end, request.lookback_days)
    with ThreadPoolExecutor(
        max_workers=max(1, request.max_concurrency), thread_name_prefix="cloudios-az"
    ) as pool:
        found = _run_all(pool, [partial(inventory.list_kind, clients, kind) for kind in kinds])
        resources = sorted((r for group in found for r in group), key=lambda r: (r.region, r.kind, r.id))
        batches = metrics.plan(resources, needs, tuning.resources_per_call, tuning.metrics_per_call)
    workers = max(1, min(request.max_concurrency, tuning.metric_calls_at_once))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloudios-az-metrics") as pool:
        daily = _run_all(pool, [partial(metrics.fetch, clients, b, start, end) for b in batches])
    snapshot = Snapshot(
        provider=Provider.AZURE,
        account_id=azure.subscription_id,
        collected_at=datetime.now(UTC),
        lookback_days=request.lookback_days,
        resources=tuple(resources),
        metrics=metrics.summaries(daily, request.lookback_days),
    )
    return CollectResult(snapshot=snapshot, api_calls=counter.snapshot(), warnings=warnings)


def probe(azure: AzureAccount, credentials: Credentials | None, timeout: float) -> str:
    """The health check: a token and one Resource Graph query; returns who read what."""
    tuning = AzureTuning(retry_total=2, connect_timeout=min(5.0, timeout), read_timeout=timeout)
    clients = clients_for(azure, credentials, tuning, CallCounter())
    name = f"{azure.subscription_id} ({inventory.probe(clients)})"
    how = "service principal" if credentials is not None else "identity"
    return f"{how} {azure.client_id} (tenant {azure.tenant_id}) reads subscription {name}"


def _run_all(pool: ThreadPoolExecutor, tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``tasks`` on ``pool`` in order; the first failure cancels the rest and is raised."""
    futures = [pool.submit(task) for task in tasks]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        raise
