"""Pure value types shared by every layer: resources, metric summaries, money, findings."""

from cloudios.domain.enums import CONFIDENCE_RANK, Action, Category, Confidence, Provider
from cloudios.domain.finding import Finding, Usage
from cloudios.domain.metrics import DailyColumns, DailyStat, Metric, MetricSummary
from cloudios.domain.money import HOURS_PER_MONTH, Money
from cloudios.domain.resource import Resource
from cloudios.domain.scan import SavingsSummary, ScanRecord, StoredFinding
from cloudios.domain.snapshot import Snapshot

__all__ = [
    "CONFIDENCE_RANK",
    "HOURS_PER_MONTH",
    "Action",
    "Category",
    "Confidence",
    "DailyColumns",
    "DailyStat",
    "Finding",
    "Metric",
    "MetricSummary",
    "Money",
    "Provider",
    "Resource",
    "SavingsSummary",
    "ScanRecord",
    "Snapshot",
    "StoredFinding",
    "Usage",
]
