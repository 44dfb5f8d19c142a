"""A realistic sample AWS estate seeded into an emulator, with the findings it should produce.

``seed_estate(url, seed=..., regions=..., scale=..., lookback_days=...)`` creates resources with
boto3 (AssumeRole into ``account_id`` first, so moto files them under that account) and seeds
CloudWatch data generated hour by hour into the ``AWS/*`` namespaces (moto only; by default one
``StatisticValues`` datum per day summarizes the 24 hours, see ``series``). It returns
``EstateTruth``: for every resource the finding a careful FinOps engineer would expect from the
module defaults, or None. Tests and the demo compute precision/recall against it (``EstateTruth.score``).

Expectations (what the modules should conclude with their defaults):

* ``aws.ec2.idle``: >= 7 days of data, every daily average CPU < 5 %, daily p95 (or maximum
  where p95 is missing) never above ~30 %, network in+out tiny (< ~1 MB/day). Seeded "idle"
  instances run 0.2-1.6 % CPU and move <= 1 MB/day (Windows ones too). A nightly batch at ~90 %
  is NOT idle.
* ``aws.ec2.rightsize``: >= 7 days, p95 CPU (daily maximum where p95 is missing) x 1.2 fits in
  half the vCPUs (<= 50 %). Seeded "oversized" instances run 10-25 % on 2xlarge/4xlarge sizes.
  "batch-oversized" ones run 8-15 % but reach ~92 % for one hour every day: the recurring daily
  peak would not fit one size down, so they are NOT rightsized (the daily-batch trap).
* ``aws.ec2.previous_generation``: family in the previous-generation list (t2, m3, m4, c3, c4,
  r3, r4, i2, d2, m1, c1, ...), well used (45-75 % CPU). Dedupe per instance: idle wins over
  rightsize wins over previous_generation (an idle t2 is ``idle``; an oversized m4 is
  ``rightsize``).
* ``aws.ebs.unattached``: state ``available`` (wins over gp2_to_gp3 for the same volume).
* ``aws.ebs.stopped_instance``: every volume attached to an instance stopped for >= 30 days
  ("stopped": 35-200 days); "stopped-recently" (5 days) is NOT flagged. Stop times are backdated
  in moto's state transition reason, so on another endpoint no volume gets this label.
* ``aws.ebs.gp2_to_gp3``: an attached (``in-use``) gp2 volume, root volumes included.
* ``aws.ebs.snapshot_old``: older than 90 days and not backing an AMI (``usedByImage``).
* ``aws.eip.unassociated``: no association (a NAT gateway's address is associated).
* ``aws.elb.idle``: no registered targets, or < 100 requests/day over >= 7 days.
* ``aws.rds.idle``: daily maximum connections < 1 over >= 7 days.
* ``aws.nat.idle``: bytes out + in < 1 MB/day over >= 7 days.
* Too little data (< 7 days; a "thin" instance launched 3 days ago at 1 % CPU): no confident
  finding, label None. Stopped instances and busy resources: None.

Emulator notes: moto stamps creation times "now", so on a server this process started
(``server.start_moto_server``) launch, volume and snapshot times are backdated in moto's
backends; on any other endpoint nothing is backdated and labels follow what is observable
(no snapshot is old then). Modules must judge data sufficiency from ``days_with_data``.
moto computes no p95, so modules see ``p95=None`` and fall back to the daily maximum.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3.session

from cloudios.domain.resource import (
    EBS_SNAPSHOT,
    EBS_VOLUME,
    EC2_INSTANCE,
    EIP,
    ELB,
    NAT_GATEWAY,
    RDS_INSTANCE,
)
from cloudios.emulators.aws import series as ts
from cloudios.emulators.aws.server import is_in_process, windows_ami
from cloudios.emulators.aws.truth import (
    EIP_IDLE,
    ELB_IDLE,
    GP2,
    IDLE,
    NAT_IDLE,
    OLD_SNAPSHOT_DAYS,
    PREVGEN,
    RDS_IDLE,
    RIGHTSIZE,
    SNAP_OLD,
    STOPPED_DAYS,
    STOPPED_VOLUME,
    UNATTACHED,
    EstateTruth,
    Label,
    Score,
)

__all__ = [
    "EIP_IDLE",
    "ELB_IDLE",
    "GP2",
    "IDLE",
    "NAT_IDLE",
    "OLD_SNAPSHOT_DAYS",
    "PREVGEN",
    "RDS_IDLE",
    "RIGHTSIZE",
    "SNAP_OLD",
    "STOPPED_DAYS",
    "STOPPED_VOLUME",
    "UNATTACHED",
    "EstateTruth",
    "Label",
    "Score",
    "seed_estate",
]

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGIONS = ("us-east-1", "eu-west-1")


THIN_DAYS = 3
SAMPLE_AMI = "ami-1e749f67"  # Ubuntu in moto's bundled list; moto accepts it even when not loaded
WINDOWS_AMI = "ami-03cf127a"  # a Windows AMI in moto's bundled list, when the region lists none


def seed_estate(
    endpoint_url: str,
    *,
    seed: int = 0,
    regions: Sequence[str] = DEFAULT_REGIONS,
    scale: float = 1.0,
    lookback_days: int = 30,
    now: datetime | None = None,
    account_id: str = DEFAULT_ACCOUNT,
    granularity: ts.Granularity = "daily-stats",
) -> EstateTruth:
    """Seed the sample estate into ``endpoint_url`` (a moto server) for ``account_id``."""
    began = time.monotonic()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    truth = EstateTruth(account_id, tuple(regions), lookback_days, end, backdated=is_in_process(endpoint_url))
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not security
    for region in regions:
        session = _account_session(endpoint_url, account_id, region)
        _Region(
            session,
            url=endpoint_url,
            region=region,
            rng=rng,
            truth=truth,
            scale=scale,
            now=now,
            granularity=granularity,
        ).seed()
    truth.seconds = time.monotonic() - began
    return truth


def _account_session(url: str, account_id: str, region: str) -> boto3.session.Session:
    base = boto3.session.Session(
        aws_access_key_id="cloudios-emulator-seeder",
        aws_secret_access_key="emulator-only",  # noqa: S106 - the emulator accepts anything
        region_name=region,
    )
    creds = base.client("sts", endpoint_url=url).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/cloudios-sample-seeder",
        RoleSessionName="cloudios-sample-seeder",
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def _count(n: int, scale: float) -> int:
    return max(1, round(n * scale)) if scale > 0 else 0


class _Region:
    """Seeds one region; instance state is kept here while wiring resources together."""

    def __init__(
        self,
        session: boto3.session.Session,
        *,
        url: str,
        region: str,
        rng: random.Random,
        truth: EstateTruth,
        scale: float,
        now: datetime,
        granularity: ts.Granularity,
    ) -> None:
        self.ec2: Any = session.client("ec2", endpoint_url=url)
        self.elb: Any = session.client("elbv2", endpoint_url=url)
        self.rds: Any = session.client("rds", endpoint_url=url)
        self.cw: Any = session.client("cloudwatch", endpoint_url=url)
        self.url = url
        self.region, self.rng, self.truth, self.scale, self.now = region, rng, truth, scale, now
        self.series: list[ts.Series] = []
        self.by_profile: dict[str, list[str]] = {}
        self.launch_age: dict[str, int] = {}
        self.snapshot_age: dict[str, int] = {}
        self.stop_age: dict[str, int] = {}
        self.writer = ts.MetricWriter(self.cw, granularity=granularity)

    def label(self, rid: str, kind: str, expected: str | None, profile: str) -> None:
        self.truth.labels.append(Label(rid, kind, self.region, expected, profile))

    def seed(self) -> None:
        subnets = sorted(self.ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
        self.vpc = subnets[0]["VpcId"]
        self.subnets = [s["SubnetId"] for s in subnets[:2]]
        self.zone = subnets[0]["AvailabilityZone"]
        self.instances()
        self.volumes()
        self.snapshots()
        self.addresses()
        self.nat_gateways()
        self.load_balancers()
        self.databases()
        if self.truth.backdated:
            self.backdate()
        self.label_storage()
        start = self.truth.end - timedelta(days=self.truth.lookback_days)
        ts.seed_series(self.writer, self.series, self.rng, start, self.truth.lookback_days)
        self.truth.put_metric_calls += self.writer.calls
        self.truth.datapoints += self.writer.datapoints

    def instances(self) -> None:
        found = self.ec2.describe_images(Filters=[{"Name": "platform", "Values": ["windows"]}])["Images"]
        windows_image = (
            found[0]["ImageId"]
            if found
            else windows_ami(self.url, self.truth.account_id, self.region) or WINDOWS_AMI
        )
        for profile, types, cpu, network, root, expected, n, windows in ts.INSTANCE_FLEETS:
            for k in range(_count(n, self.scale)):
                itype = types[k % len(types)]
                iid = self.ec2.run_instances(
                    ImageId=windows_image if windows else SAMPLE_AMI,
                    MinCount=1,
                    MaxCount=1,
                    InstanceType=itype,
                    Placement={"AvailabilityZone": self.zone},
                    BlockDeviceMappings=[
                        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 20, "VolumeType": root}}
                    ],
                    TagSpecifications=[
                        {
                            "ResourceType": "instance",
                            "Tags": [
                                {"Key": "Name", "Value": f"{profile}-{k + 1}"},
                                {"Key": "cloudios:profile", "Value": profile},
                            ],
                        }
                    ],
                )["Instances"][0]["InstanceId"]
                self.by_profile.setdefault(profile, []).append(iid)
                self.launch_age[iid] = THIN_DAYS if profile == "thin" else self.rng.randint(60, 400)
                self.label(iid, EC2_INSTANCE, expected, profile)
                if profile.startswith("stopped"):
                    self.ec2.stop_instances(InstanceIds=[iid])
                    self.stop_age[iid] = 5 if profile == "stopped-recently" else self.rng.randint(35, 200)
                    continue
                days = THIN_DAYS if profile == "thin" else None
                for name, hourly in (
                    ("CPUUtilization", cpu),
                    ("NetworkIn", network),
                    ("NetworkOut", network),
                ):
                    self.series.append(ts.Series("AWS/EC2", name, "InstanceId", iid, hourly, days))

    def volumes(self) -> None:
        busy = self.by_profile["busy"]
        plan = [("gp2", True)] * 2 + [("gp3", True)] + [("gp2", False)] * 2 + [("gp3", False)]
        for k, (vtype, attach) in enumerate(plan * _count(1, self.scale)):
            vid = self.ec2.create_volume(
                AvailabilityZone=self.zone, Size=self.rng.choice([50, 100, 200, 500]), VolumeType=vtype
            )["VolumeId"]
            if attach:
                target = busy[k % len(busy)]
                self.ec2.attach_volume(VolumeId=vid, InstanceId=target, Device=f"/dev/sd{chr(102 + k % 10)}")
                for name in ("VolumeReadOps", "VolumeWriteOps"):
                    self.series.append(ts.Series("AWS/EBS", name, "VolumeId", vid, ts.rate(1e4, 2e5)))

    def snapshots(self) -> None:
        # (age in days, keep the source volume) -> old ones with and without their volume.
        plan = [(200, True), (120, False), (400, True), (15, True), (30, False)]
        for _ in range(_count(1, self.scale)):
            for age, keep in plan:
                vid = self.ec2.create_volume(AvailabilityZone=self.zone, Size=100, VolumeType="gp3")[
                    "VolumeId"
                ]
                sid = self.ec2.create_snapshot(VolumeId=vid, Description=f"backup {age}d")["SnapshotId"]
                self.snapshot_age[sid] = age
                if not keep:
                    self.ec2.delete_volume(VolumeId=vid)
            image = self.ec2.create_image(InstanceId=self.by_profile["busy"][0], Name=f"golden-{self.region}")
            for ami in self.ec2.describe_images(ImageIds=[image["ImageId"]])["Images"]:
                for mapping in ami.get("BlockDeviceMappings", []):
                    if mapping.get("Ebs", {}).get("SnapshotId"):
                        self.snapshot_age[mapping["Ebs"]["SnapshotId"]] = 300

    def addresses(self) -> None:
        busy = self.by_profile["busy"]
        for k in range(2 * _count(1, self.scale)):
            alloc = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
            self.ec2.associate_address(AllocationId=alloc, InstanceId=busy[k % len(busy)])
        for _ in range(2 * _count(1, self.scale)):
            self.ec2.allocate_address(Domain="vpc")

    def nat_gateways(self) -> None:
        for profile, traffic, expected in (
            ("busy", ts.rate(100 * ts.MB, 2000 * ts.MB), None),
            ("idle", ts.rate(1 * ts.KB, 15 * ts.KB), NAT_IDLE),
        ):
            for _ in range(_count(1, self.scale)):
                alloc = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
                nat = self.ec2.create_nat_gateway(SubnetId=self.subnets[0], AllocationId=alloc)["NatGateway"]
                self.label(nat["NatGatewayId"], NAT_GATEWAY, expected, profile)
                for name in ("BytesOutToDestination", "BytesInFromDestination"):
                    self.series.append(
                        ts.Series("AWS/NATGateway", name, "NatGatewayId", nat["NatGatewayId"], traffic)
                    )

    def load_balancers(self) -> None:
        busy = self.by_profile["busy"]
        # (profile, type, targets, requests per hour, label)
        plan: tuple[tuple[str, str, list[str], ts.Hourly | None, str | None], ...] = (
            ("busy", "application", busy[:2], ts.rate(2000, 20000), None),
            ("no-targets", "application", [], None, ELB_IDLE),
            ("no-requests", "application", busy[:1], ts.rate(0, 3), ELB_IDLE),
            ("busy-nlb", "network", busy[1:2], ts.rate(500, 5000), None),
        )
        for k in range(_count(1, self.scale)):
            for profile, lb_type, targets, requests, expected in plan:
                name = f"{profile}-{k + 1}"
                lb = self.elb.create_load_balancer(Name=name, Subnets=self.subnets, Type=lb_type)[
                    "LoadBalancers"
                ][0]
                arn = lb["LoadBalancerArn"]
                protocol = "HTTP" if lb_type == "application" else "TCP"
                tg = self.elb.create_target_group(
                    Name=f"tg-{name}", Protocol=protocol, Port=80, VpcId=self.vpc, TargetType="instance"
                )["TargetGroups"][0]["TargetGroupArn"]
                self.elb.create_listener(
                    LoadBalancerArn=arn,
                    Protocol=protocol,
                    Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
                )
                if targets:
                    self.elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": t} for t in targets])
                self.label(arn, ELB, expected, profile)
                if requests is not None:
                    namespace, metric = (
                        ("AWS/ApplicationELB", "RequestCount")
                        if lb_type == "application"
                        else ("AWS/NetworkELB", "NewFlowCount")
                    )
                    suffix = arn.split(":loadbalancer/", 1)[1]
                    self.series.append(ts.Series(namespace, metric, "LoadBalancer", suffix, requests))

    def databases(self) -> None:
        for profile, cpu, connections, expected in (
            ("busy", ts.cpu_healthy, ts.rate(5, 60), None),
            ("idle", ts.cpu_idle, ts.rate(0, 0), RDS_IDLE),
        ):
            for k in range(_count(1, self.scale)):
                ident = f"{profile}-db-{self.region}-{k + 1}"
                self.rds.create_db_instance(
                    DBInstanceIdentifier=ident,
                    DBInstanceClass="db.m5.large",
                    Engine="postgres",
                    AllocatedStorage=100,
                    MasterUsername="cloudios",
                    MasterUserPassword="emulator-only-password",
                )
                self.label(ident, RDS_INSTANCE, expected, profile)
                self.series.append(ts.Series("AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", ident, cpu))
                self.series.append(
                    ts.Series("AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", ident, connections)
                )

    def backdate(self) -> None:
        """Move creation times into the past in moto's in-process backends (emulator only)."""
        from moto.ec2.models import ec2_backends  # noqa: PLC0415 - only with an in-process moto

        backend = ec2_backends[self.truth.account_id][self.region]
        now = self.now.replace(tzinfo=None)  # moto keeps naive UTC datetimes
        for iid, age in self.launch_age.items():
            backend.get_instance(iid).launch_time = now - timedelta(days=age)
        for volume in backend.volumes.values():
            attached = volume.attachment.instance.id if volume.attachment else None
            age = self.launch_age.get(attached or "", self.rng.randint(30, 300))
            volume.create_time = now - timedelta(days=age)
        for iid, age in self.stop_age.items():
            stopped = (now - timedelta(days=age)).strftime("%Y-%m-%d %H:%M:%S")
            backend.get_instance(iid)._reason = f"User initiated ({stopped} GMT)"  # noqa: SLF001
        for sid, age in self.snapshot_age.items():
            if sid in backend.snapshots:
                backend.snapshots[sid].start_time = now - timedelta(days=age)

    def label_storage(self) -> None:
        """Volumes, snapshots and addresses are labelled from what the API now reports."""
        for vol in self.ec2.describe_volumes()["Volumes"]:
            owner = vol["Attachments"][0].get("InstanceId") if vol["Attachments"] else None
            stopped_days = self.stop_age.get(owner or "", 0) if self.truth.backdated else 0
            if vol["State"] == "available":
                expected: str | None = UNATTACHED
            elif stopped_days >= STOPPED_DAYS:
                expected = STOPPED_VOLUME
            elif vol["VolumeType"] == "gp2":
                expected = GP2
            else:
                expected = None
            self.label(
                vol["VolumeId"], EBS_VOLUME, expected, "attached" if vol["Attachments"] else "unattached"
            )
        used = {
            m["Ebs"]["SnapshotId"]
            for image in self.ec2.describe_images(Owners=["self"])["Images"]
            for m in image.get("BlockDeviceMappings", [])
            if m.get("Ebs", {}).get("SnapshotId")
        }
        owned = [{"Name": "owner-id", "Values": [self.truth.account_id]}]
        for snap in self.ec2.describe_snapshots(OwnerIds=["self"], Filters=owned)["Snapshots"]:
            if snap.get("OwnerId") != self.truth.account_id:
                continue  # moto ignores OwnerIds and lists its public AMI snapshots too
            age = (self.now - snap["StartTime"].astimezone(UTC)).days
            old = age > OLD_SNAPSHOT_DAYS and snap["SnapshotId"] not in used
            profile = "ami" if snap["SnapshotId"] in used else f"{age}d"
            self.label(snap["SnapshotId"], EBS_SNAPSHOT, SNAP_OLD if old else None, profile)
        for addr in self.ec2.describe_addresses()["Addresses"]:
            associated = bool(addr.get("AssociationId"))
            self.label(
                addr["AllocationId"],
                EIP,
                None if associated else EIP_IDLE,
                "associated" if associated else "unassociated",
            )
