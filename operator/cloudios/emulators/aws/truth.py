"""Ground truth of the sample estate: the finding each resource should get, and scoring.

Expectations (what the modules should conclude with their defaults; one label per resource, the
one dedupe keeps):

* ``aws.ec2.idle``: >= 7 days of data, every daily average CPU < 5 %, daily p95 (or maximum
  where p95 is missing) never above ~30 %, network in+out tiny (< ~1 MB/day). Seeded "idle"
  instances run 0.2-1.6 % CPU and move <= 1 MB/day (Windows ones too). A nightly batch at ~90 %
  is NOT idle.
* ``aws.ec2.rightsize``: >= 7 days, p95 CPU (daily maximum where p95 is missing) x 1.2 fits in
  half the vCPUs (<= 50 %). Seeded "oversized" instances run 10-25 % on 2xlarge/4xlarge sizes.
  "batch-oversized" ones run 8-15 % but reach ~92 % for one hour every day: the recurring daily
  peak would not fit one size down, so they are NOT rightsized (the daily-batch trap).
* ``aws.ec2.previous_generation``: family in the previous-generation list (t2, m3, m4, c3, c4,
  r3, r4, i2, d2, m1, c1, ...), well used (45-75 % CPU).
* ``aws.ec2.graviton``: every other running Linux x86 instance with >= 7 days of data whose type
  has an arm64 twin of the same class, vCPUs and memory (m5, c5, r5, t3 sizes): "busy",
  "bursty" and "batch-oversized" ones. NOT Windows ("busy-windows"), NOT arm64 already or
  without a twin ("busy-arm": m6g, c7g, i3). Dedupe per instance: idle > rightsize >
  previous_generation > graviton (an idle t2 is ``idle``; an oversized m4 is ``rightsize``).
* ``aws.ebs.unattached``: state ``available`` (wins over gp2_to_gp3 and io_to_gp3).
* ``aws.ebs.stopped_instance``: every volume attached to an instance stopped for >= 30 days
  ("stopped": 35-200 days); "stopped-recently" (5 days) is NOT flagged. Stop times are backdated
  in moto's state transition reason, so on another endpoint no volume gets this label.
* ``aws.ebs.low_activity``: a non-root volume of a running instance with <= 100 read+write
  operations on every one of >= 7 days ("quiet": <= 48 a day); wins over gp2_to_gp3. NOT a
  "moderate" one (500-1,400 a day), NOT a quiet root volume of an idle instance, NOT a quiet
  volume with 3 days of data ("quiet-thin").
* ``aws.ebs.gp2_to_gp3``: an attached (``in-use``) gp2 volume, root volumes included (sizes avoid
  171-250 GB, where gp3 at gp2's throughput saves nothing and no finding is published).
* ``aws.ebs.io_to_gp3``: an attached io1/io2 volume with <= 16,000 IOPS, not Multi-Attach; NOT
  io2 at 20,000 IOPS, NOT a Multi-Attach io2.
* ``aws.ebs.snapshot_orphaned``: source volume deleted, older than 30 days, not behind an AMI
  (wins over snapshot_old). NOT a 12-day-old orphan; NOT an AMI-registered snapshot.
* ``aws.ebs.snapshot_old``: older than 90 days, source volume still there, not behind an AMI.
* ``aws.eip.unassociated``: no association (a NAT gateway's address is associated).
* ``aws.elb.idle``: no registered targets, or < 100 requests/day over >= 7 days.
* ``aws.rds.idle``: daily maximum connections < 1 over >= 7 days.
* ``aws.rds.rightsize``: "oversized-db" (10-25 % CPU, 70-80 % of memory free, Multi-AZ) one size
  down. NOT "memory-bound-db" (5-10 % free), NOT "batch-db" (a nightly hour at ~92 %), NOT
  "thin-db" (3 days of data).
* ``aws.rds.previous_generation``: "prevgen-db" (db.m4.large, db.t2.medium), well used.
* ``aws.rds.snapshot_old``: manual DB and cluster snapshots older than 90 days (of a live DB, of
  a deleted DB, of an Aurora cluster); NOT a 20-day-old one; automated ones are not inventoried.
* ``aws.nat.idle``: bytes out + in < 1 MB/day over >= 7 days.
* Too little data (< 7 days; a "thin" instance launched 3 days ago at 1 % CPU): no confident
  finding, label None. Stopped instances and busy resources: None.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

OLD_SNAPSHOT_DAYS = 90
IDLE, RIGHTSIZE, PREVGEN = "aws.ec2.idle", "aws.ec2.rightsize", "aws.ec2.previous_generation"
GRAVITON = "aws.ec2.graviton"
UNATTACHED, GP2, SNAP_OLD = "aws.ebs.unattached", "aws.ebs.gp2_to_gp3", "aws.ebs.snapshot_old"
IO_GP3, LOW_IO, SNAP_ORPHAN = "aws.ebs.io_to_gp3", "aws.ebs.low_activity", "aws.ebs.snapshot_orphaned"
STOPPED_VOLUME = "aws.ebs.stopped_instance"
STOPPED_DAYS = 30
ORPHAN_MIN_DAYS = 30
LOW_IO_OPS_PER_DAY = 100
GP3_MAX_IOPS = 16_000
IO_TYPES = frozenset({"io1", "io2"})
RDS_RIGHTSIZE, RDS_PREVGEN, RDS_SNAP_OLD = (
    "aws.rds.rightsize",
    "aws.rds.previous_generation",
    "aws.rds.snapshot_old",
)
EIP_IDLE, ELB_IDLE, RDS_IDLE, NAT_IDLE = (
    "aws.eip.unassociated",
    "aws.elb.idle",
    "aws.rds.idle",
    "aws.nat.idle",
)


@dataclass(frozen=True)
class VolumeSeen:
    """What the API reports of a volume (and its instance), plus the I/O profile seeded for it."""

    state: str
    volume_type: str
    iops: int
    multi_attach: bool
    io: str  # busy | quiet | quiet-thin | moderate | root-quiet | attached | unattached
    owner_running: bool
    owner_stopped_days: int


def volume_label(vol: VolumeSeen) -> tuple[str | None, str]:
    """(expected module, profile) of an EBS volume; removals first, as dedupe keeps them."""
    multi = "-multi-attach" if vol.multi_attach else ""
    profile = f"{vol.volume_type}-{vol.iops}{multi}-{vol.io}" if vol.volume_type in IO_TYPES else vol.io
    if vol.state == "available":
        return UNATTACHED, profile
    if vol.owner_stopped_days >= STOPPED_DAYS:
        return STOPPED_VOLUME, profile
    if vol.owner_running and vol.io == "quiet":  # non-root, >= 7 days at <= 100 operations a day
        return LOW_IO, profile
    if vol.volume_type == "gp2":
        return GP2, profile
    if vol.volume_type in IO_TYPES and vol.iops <= GP3_MAX_IOPS and not vol.multi_attach:
        return IO_GP3, profile
    return None, profile


def snapshot_label(used: bool, gone: bool, age: int) -> tuple[str | None, str]:
    """(expected module, profile) of an EBS snapshot: an AMI's, orphaned, old or neither."""
    if used:
        return None, "ami"
    profile = f"{age}d{'-orphan' if gone else ''}"
    if gone and age > ORPHAN_MIN_DAYS:
        return SNAP_ORPHAN, profile
    return (SNAP_OLD if age > OLD_SNAPSHOT_DAYS else None), profile


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
