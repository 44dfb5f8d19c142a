"""Entry point of the AWS provider: one account's inventory and metric summaries.

``collect(request)`` assumes the account's role (``auth``), creates every client up front in the
calling thread from that account's own session, then runs the regions' describe calls and the
GetMetricData batches on a ``ThreadPoolExecutor(max_workers=request.max_concurrency)``. Workers
only ever touch clients (thread-safe), never the session. Batches are planned as they are
submitted and each comes back reduced to its days, so memory beyond the snapshot itself stays
bounded by the batches in flight, not by the size of the account. Everything in the result is tagged
from the request, never from what AWS answered.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from cloudios.domain import Metric, Provider, Resource, Snapshot
from cloudios.providers.aws.auth import open_account_session
from cloudios.providers.aws.calls import CallCounter
from cloudios.providers.aws.credentials import AwsBaseCredentials
from cloudios.providers.aws.inventory import KNOWN_KINDS, SERVICE_OF_KIND, RegionScope, region_tasks
from cloudios.providers.aws.metrics import (
    PERCENTILE,
    BatchDays,
    MetricFetcher,
    batches,
    iter_queries,
    queries_per_call,
    window,
)
from cloudios.providers.aws.regions import validate_regions
from cloudios.providers.aws.summaries import Summarizer
from cloudios.providers.aws.tuning import AwsTuning
from cloudios.providers.base import CollectRequest, CollectResult, Credentials, ProviderError

T = TypeVar("T")


def collect(request: CollectRequest, *, tuning: AwsTuning | None = None) -> CollectResult:
    """Inventory ``request.kinds`` and summarize ``request.metrics`` for one AWS account.

    Raises ``ProviderError`` (UnknownRegion, AssumeRoleDenied, AccountMismatch, PermissionDenied,
    Throttled, ...) instead of returning partial results.
    """
    aws = request.account.aws
    if aws is None:
        raise ProviderError("InvalidAccount", "the CloudAccount has no spec.aws block")
    validate_regions(aws.regions)
    tuning = tuning or AwsTuning()
    workers = max(1, request.max_concurrency)
    counter = CallCounter()
    warnings: list[str] = []

    unknown = sorted(request.kinds - KNOWN_KINDS)
    if unknown:
        warnings.append(f"the AWS provider does not inventory {', '.join(unknown)}; skipped")
    kinds = frozenset(request.kinds & KNOWN_KINDS)
    needs: dict[str, list[Metric]] = {}
    for need in request.metrics:
        if need.kind in kinds and need.metric not in needs.setdefault(need.kind, []):
            needs[need.kind].append(need.metric)

    account = open_account_session(
        aws=aws,
        tenant=request.tenant,
        account_name=request.account_name,
        base_credentials=base_credentials(request.credentials),
        tuning=tuning,
        counter=counter,
        pool=workers,
    )
    services = sorted({SERVICE_OF_KIND[k] for k in kinds} | ({"cloudwatch"} if needs else set()))
    scopes = [
        RegionScope(
            account_id=aws.account_id,
            region=region,
            clients={s: account.client(s, region) for s in services},
            page_size=tuning.page_size,
        )
        for region in aws.regions
    ]
    start, end = window(request.end, request.lookback_days)
    fetcher = MetricFetcher(start, end)
    per_call = queries_per_call(
        request.lookback_days, tuning.max_queries_per_call, tuning.max_datapoints_per_call
    )

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloudios-aws") as pool:
        found = _run_all(pool, [t for s in scopes for t in region_tasks(s, kinds)])
        resources = sorted((r for group in found for r in group), key=_order)
        summarizer = Summarizer(start, request.lookback_days)

        def jobs() -> Iterator[Callable[[], BatchDays]]:
            # Planned lazily: only the batches submitted and not yet summarized exist at a time.
            for scope in scopes:
                queries = iter_queries(_in_region(resources, scope.region), needs)
                for batch in batches(queries, per_call):
                    yield partial(fetcher.fetch, scope.client("cloudwatch"), scope.region, batch)

        # each answer is reduced to its days in the worker that fetched it, summarized here as it
        # lands, then dropped; at most two batches per worker in flight
        _run_all(pool, jobs(), consume=summarizer.add, ahead=2 * workers)

    summaries = summarizer.finish()
    warnings.extend(fetcher.warnings)
    if summarizer.missing_percentile and not fetcher.warnings:
        warnings.append(
            f"CloudWatch returned no {PERCENTILE} values for {summarizer.missing_percentile} series "
            "that have data "
            f"(the endpoint may not support extended statistics); {PERCENTILE} is left empty "
            "and modules fall back to the daily maximum."
        )
    snapshot = Snapshot(
        provider=Provider.AWS,
        account_id=aws.account_id,
        collected_at=datetime.now(UTC),
        lookback_days=request.lookback_days,
        resources=tuple(resources),
        metrics=summaries,
    )
    return CollectResult(snapshot=snapshot, api_calls=counter.snapshot(), warnings=warnings)


def base_credentials(credentials: Credentials | None) -> AwsBaseCredentials | None:
    """The request's credentials, which must be the AWS provider's own (or None: the standard chain)."""
    if credentials is None or isinstance(credentials, AwsBaseCredentials):
        return credentials
    raise ProviderError("InvalidCredentials", "the AWS provider was handed another provider's credentials")


def _order(resource: Resource) -> tuple[str, str, str]:
    return (resource.region, resource.kind, resource.id)


def _in_region(resources: Iterable[Resource], region: str) -> Iterator[Resource]:
    return (r for r in resources if r.region == region)


def _run_all(
    pool: ThreadPoolExecutor,
    tasks: Iterable[Callable[[], T]],
    consume: Callable[[T], None] | None = None,
    *,
    ahead: int | None = None,
) -> list[T]:
    """Run ``tasks`` on ``pool``; on the first failure cancel what has not started and raise.

    With ``consume``, each result is handed to it in this thread as soon as it is ready and then
    dropped (a finished future keeps its result alive); otherwise results come back in order.
    With ``ahead``, at most that many tasks are taken from ``tasks`` (which may be a lazy
    iterator) and submitted but not yet consumed at any time, so neither pending tasks nor
    finished results pile up when ``consume`` is slower than the workers: memory stays bounded
    whatever the number of tasks.
    """
    queue = iter(tasks)
    futures: list[Future[T]] = []
    pending: set[Future[T]] = set()

    def submit(n: int | None) -> None:
        for task in itertools.islice(queue, n):
            future = pool.submit(task)
            pending.add(future)
            if consume is None:
                futures.append(future)

    submit(None if ahead is None or consume is None else max(1, ahead))
    try:
        while pending:
            done, pending_now = wait(pending, return_when=FIRST_COMPLETED)
            pending.intersection_update(pending_now)
            for future in done:
                result = future.result()  # raises the task's exception
                if consume is not None:
                    consume(result)
            submit(len(done))
            del done
    except BaseException:
        for other in pending:
            other.cancel()
        wait(pending)
        raise
    return [f.result() for f in futures]
