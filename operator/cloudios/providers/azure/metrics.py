"""Azure Monitor metric summaries: multi-resource queries, 50 resources of one region and type per call.

One call (``metrics.list_at_subscription_scope_post`` of azure-mgmt-monitor, subscription scope)
asks every needed metric (at most 20) of up to 50 resources that share region and resource type,
filtered by ``Microsoft.ResourceId eq '...' or ...``, at a daily interval (P1D) over
``[end - lookback, end)`` with aggregations average, maximum, minimum, total and count, and ``top``
set to the batch size (Azure returns 10 series per metric otherwise). So a scan needs exactly
Σ ⌈resources / 50⌉ calls per (region, type, metric set): the lower bound. Azure Monitor has no
percentile aggregation: ``p95`` stays None and modules read the daily maximum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError

from cloudios.domain import DailyStat, Metric, MetricSummary, Resource
from cloudios.domain import azure as kinds
from cloudios.providers.azure.auth import AccountClients
from cloudios.providers.azure.errors import translate
from cloudios.providers.azure.inventory import ARM_TYPES

INTERVAL = "P1D"
AGGREGATIONS = "average,maximum,minimum,total,count"
# (kind, canonical metric) -> Azure Monitor metric name; counters keep their daily total as ``sum``.
METRIC_NAMES: Mapping[tuple[str, Metric], str] = {
    (kinds.VM, Metric.CPU_UTILIZATION): "Percentage CPU",
    (kinds.VM, Metric.NETWORK_IN_BYTES): "Network In Total",
    (kinds.VM, Metric.NETWORK_OUT_BYTES): "Network Out Total",
    (kinds.VM, Metric.MEMORY_AVAILABLE_BYTES): "Available Memory Bytes",
}
COUNTERS = frozenset({Metric.NETWORK_IN_BYTES, Metric.NETWORK_OUT_BYTES})


@dataclass(frozen=True)
class Batch:
    """One metrics call: resources of one region and type, and the metrics asked of them."""

    region: str
    kind: str
    resource_ids: tuple[str, ...]
    metrics: tuple[Metric, ...]

    def filter(self) -> str:
        return " or ".join(f"Microsoft.ResourceId eq '{rid}'" for rid in self.resource_ids)


def window(end: datetime, lookback_days: int) -> tuple[datetime, datetime]:
    """``[end - lookback_days, end)`` with ``end`` truncated to UTC midnight (naive means UTC)."""
    aware = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    stop = aware.replace(hour=0, minute=0, second=0, microsecond=0)
    return stop - timedelta(days=lookback_days), stop


def plan(
    resources: Iterable[Resource], needs: Mapping[str, Sequence[Metric]], per_call: int, metrics_per_call: int
) -> list[Batch]:
    """Batches of at most ``per_call`` resources per (region, kind) and ``metrics_per_call`` metrics."""
    groups: dict[tuple[str, str], list[str]] = {}
    for resource in resources:
        if needs.get(resource.kind):
            groups.setdefault((resource.region, resource.kind), []).append(resource.id)
    batches: list[Batch] = []
    for (region, kind), ids in sorted(groups.items()):
        wanted = [m for m in needs[kind] if (kind, m) in METRIC_NAMES]
        batches.extend(
            Batch(region, kind, tuple(ids[i : i + per_call]), tuple(wanted[m : m + metrics_per_call]))
            for m in range(0, len(wanted), metrics_per_call)
            for i in range(0, len(ids), per_call)
        )
    return batches


Daily = dict[str, dict[Metric, list[DailyStat]]]


def fetch(clients: AccountClients, batch: Batch, start: datetime, end: datetime) -> Daily:
    """One call: daily statistics per resource id (as the request spelled it) and metric."""
    from azure.mgmt.monitor.models import SubscriptionScopeMetricsRequestBodyParameters  # noqa: PLC0415

    names = {METRIC_NAMES[(batch.kind, m)].lower(): m for m in batch.metrics}
    body = SubscriptionScopeMetricsRequestBodyParameters(
        timespan=f"{start.isoformat().replace('+00:00', 'Z')}/{end.isoformat().replace('+00:00', 'Z')}",
        interval=INTERVAL,
        metric_names=",".join(METRIC_NAMES[(batch.kind, m)] for m in batch.metrics),
        aggregation=AGGREGATIONS,
        filter=batch.filter(),
        top=len(batch.resource_ids),
        metric_namespace=ARM_TYPES[batch.kind],
        validate_dimensions=False,
    )
    try:
        response = clients.monitor().metrics.list_at_subscription_scope_post(
            region=batch.region, metricnamespace=ARM_TYPES[batch.kind], body=body
        )
    except AzureError as exc:
        raise translate(exc, operation="Microsoft.Insights/metrics", where=batch.region) from None
    by_lower = {rid.lower(): rid for rid in batch.resource_ids}
    found: Daily = {}
    for metric in response.value or []:
        canonical = names.get(str(metric.name.value).lower())
        if canonical is None:
            continue
        for series in metric.timeseries or []:
            rid = by_lower.get(_resource_id(series.metadatavalues or []).lower())
            if rid is None:
                continue
            days = [d for point in series.data or [] if (d := _daily(point, counter=canonical in COUNTERS))]
            found.setdefault(rid, {})[canonical] = days
    return found


def _resource_id(metadata: Sequence[Any]) -> str:
    for item in metadata:
        if str(item.name.value).lower() == "microsoft.resourceid":
            return str(item.value)
    return ""


def _daily(point: Any, *, counter: bool) -> DailyStat | None:
    if point.average is None or point.maximum is None:
        return None  # Azure lists intervals without data as timestamps without values
    stamp: datetime = point.time_stamp
    day: date = stamp.astimezone(UTC).date() if stamp.tzinfo else stamp.date()
    return DailyStat(
        day=day,
        average=float(point.average),
        maximum=float(point.maximum),
        minimum=None if point.minimum is None else float(point.minimum),
        sum=float(point.total) if counter and point.total is not None else None,
        samples=int(point.count or 0),
    )


def summaries(found: Iterable[Daily], lookback_days: int) -> dict[str, dict[Metric, MetricSummary]]:
    """Metric summaries from the batches' daily statistics."""
    result: dict[str, dict[Metric, MetricSummary]] = {}
    for batch in found:
        for rid, metrics in batch.items():
            for metric, days in metrics.items():
                result.setdefault(rid, {})[metric] = MetricSummary(
                    resource_id=rid,
                    metric=metric,
                    lookback_days=lookback_days,
                    daily=tuple(sorted(days, key=lambda d: d.day)),
                )
    return result
