"""Ground truth of the sample estate: the finding each resource should get, and scoring."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

OLD_SNAPSHOT_DAYS = 90
IDLE, RIGHTSIZE, PREVGEN = "aws.ec2.idle", "aws.ec2.rightsize", "aws.ec2.previous_generation"
UNATTACHED, GP2, SNAP_OLD = "aws.ebs.unattached", "aws.ebs.gp2_to_gp3", "aws.ebs.snapshot_old"
STOPPED_VOLUME = "aws.ebs.stopped_instance"
STOPPED_DAYS = 30
EIP_IDLE, ELB_IDLE, RDS_IDLE, NAT_IDLE = (
    "aws.eip.unassociated",
    "aws.elb.idle",
    "aws.rds.idle",
    "aws.nat.idle",
)


@dataclass(frozen=True)
class Label:
    """Ground truth for one resource: the module expected to flag it, or None."""

    resource_id: str
    kind: str
    region: str
    expected: str | None
    profile: str


@dataclass(frozen=True)
class Score:
    """Precision and recall per module, plus the counts behind them."""

    true_positives: Counter[str]
    false_positives: Counter[str]
    false_negatives: Counter[str]

    def precision(self, module: str) -> float:
        tp, fp = self.true_positives[module], self.false_positives[module]
        return tp / (tp + fp) if tp + fp else 1.0

    def recall(self, module: str) -> float:
        tp, fn = self.true_positives[module], self.false_negatives[module]
        return tp / (tp + fn) if tp + fn else 1.0


@dataclass
class EstateTruth:
    """What was seeded and what should be found."""

    account_id: str
    regions: tuple[str, ...]
    lookback_days: int
    end: datetime
    labels: list[Label] = field(default_factory=list)
    backdated: bool = False
    put_metric_calls: int = 0
    datapoints: int = 0
    seconds: float = 0.0

    def expected(self) -> dict[str, str | None]:
        """resource id -> expected module (None: nothing to flag)."""
        return {label.resource_id: label.expected for label in self.labels}

    def flagged(self, module: str) -> set[str]:
        return {label.resource_id for label in self.labels if label.expected == module}

    def score(self, found: Iterable[tuple[str, str]]) -> Score:
        """Compare (resource id, module) findings with the labels; unknown resources are FPs."""
        expected = self.expected()
        tp: Counter[str] = Counter()
        fp: Counter[str] = Counter()
        fn: Counter[str] = Counter()
        seen = set()
        for resource_id, module in found:
            seen.add((resource_id, module))
            if expected.get(resource_id) == module:
                tp[module] += 1
            else:
                fp[module] += 1
        for resource_id, wanted in expected.items():
            if wanted is not None and (resource_id, wanted) not in seen:
                fn[wanted] += 1
        return Score(tp, fp, fn)
