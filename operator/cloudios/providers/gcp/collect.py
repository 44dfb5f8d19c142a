"""Entry point of the GCP provider: one project's inventory and metric summaries.

``collect(request)`` fetches the project's token first (``auth``), then runs the list calls and
the ListTimeSeries queries on a ``ThreadPoolExecutor(max_workers=request.max_concurrency)``.
Everything in the result is tagged from the request, never from what Google answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from cloudios.domain import Metric, Provider, Resource, Snapshot
from cloudios.providers.base import CollectRequest, CollectResult, Credentials, ProviderError
from cloudios.providers.gcp import inventory, metrics
from cloudios.providers.gcp.auth import open_project_session
from cloudios.providers.gcp.calls import CallCounter
from cloudios.providers.gcp.credentials import GcpKeyCredentials
from cloudios.providers.gcp.settings import GcpEndpoints, GcpTuning

T = TypeVar("T")


def collect(
    request: CollectRequest, *, tuning: GcpTuning | None = None, endpoints: GcpEndpoints | None = None
) -> CollectResult:
    """Inventory ``request.kinds`` and summarize ``request.metrics`` for one GCP project.

    Raises ``ProviderError`` (CredentialsInvalid, PermissionDenied, Throttled, ...) instead of
    returning partial results.
    """
    gcp = request.account.gcp
    if gcp is None:
        raise ProviderError("InvalidAccount", "the CloudAccount has no spec.gcp block")
    tuning = tuning or GcpTuning()
    counter = CallCounter()
    warnings: list[str] = []
    unknown = sorted(request.kinds - inventory.KNOWN_KINDS)
    if unknown:
        warnings.append(f"the GCP provider does not inventory {', '.join(unknown)}; skipped")
    kinds = request.kinds & inventory.KNOWN_KINDS
    needs: dict[str, list[Metric]] = {}
    for need in request.metrics:
        if need.kind in kinds and need.metric not in needs.setdefault(need.kind, []):
            needs[need.kind].append(need.metric)

    session = open_project_session(
        gcp=gcp,
        key=key_credentials(request.credentials),
        endpoints=endpoints or GcpEndpoints.from_environment(),
        tuning=tuning,
        counter=counter,
    )
    start, end = metrics.window(request.end, request.lookback_days)
    with ThreadPoolExecutor(
        max_workers=max(1, request.max_concurrency), thread_name_prefix="cloudios-gcp"
    ) as pool:
        found = _run_all(pool, inventory.tasks(session, kinds))
        resources = sorted((r for group in found for r in group), key=_order)
        queries = metrics.plan(resources, needs)
        summarizer = metrics.Summarizer(request.lookback_days, (r.id for r in resources))
        if queries:
            client = session.monitoring()
            jobs = [
                partial(metrics.fetch, client, gcp.project_id, q, start, end, counter=counter, tuning=tuning)
                for q in queries
            ]
            _run_all(pool, jobs, consume=summarizer.add)
    snapshot = Snapshot(
        provider=Provider.GCP,
        account_id=gcp.project_id,
        collected_at=datetime.now(UTC),
        lookback_days=request.lookback_days,
        resources=tuple(resources),
        metrics=summarizer.finish(),
    )
    return CollectResult(snapshot=snapshot, api_calls=counter.snapshot(), warnings=warnings)


def key_credentials(credentials: Credentials | None) -> GcpKeyCredentials | None:
    """The request's credentials, which must be the GCP provider's own (or None: keyless)."""
    if credentials is None or isinstance(credentials, GcpKeyCredentials):
        return credentials
    raise ProviderError("InvalidCredentials", "the GCP provider was handed another provider's credentials")


def _order(resource: Resource) -> tuple[str, str, str]:
    return (resource.region, resource.kind, resource.id)


def _run_all(
    pool: ThreadPoolExecutor, tasks: Sequence[Callable[[], T]], consume: Callable[[T], None] | None = None
) -> list[T]:
    """Run ``tasks`` on ``pool``; on the first failure cancel what has not started and raise."""
    futures: list[Future[T]] = [pool.submit(task) for task in tasks]
    pending: set[Future[T]] = set(futures)
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                if consume is not None:
                    consume(result)
    except BaseException:
        for other in pending:
            other.cancel()
        wait(pending)
        raise
    return [] if consume is not None else [f.result() for f in futures]
