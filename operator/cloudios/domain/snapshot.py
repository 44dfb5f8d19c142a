"""What a provider hands the modules: one account's inventory and metric summaries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cloudios.domain.enums import Provider
from cloudios.domain.metrics import Metric, MetricSummary
from cloudios.domain.resource import Resource


class Snapshot(BaseModel):
    """Inventory plus metric summaries of one account, taken at ``collected_at``."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    account_id: str
    collected_at: datetime
    lookback_days: int = Field(ge=1, le=90)
    resources: tuple[Resource, ...] = ()
    metrics: dict[str, dict[Metric, MetricSummary]] = Field(
        default_factory=dict, description="resource id -> metric -> summary"
    )

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    def metric(self, resource_id: str, metric: Metric) -> MetricSummary:
        """The summary, or an empty one when the provider found no datapoints."""
        found = self.metrics.get(resource_id, {}).get(metric)
        if found is not None:
            return found
        return MetricSummary(resource_id=resource_id, metric=metric, lookback_days=self.lookback_days)
