"""A realistic sample AWS estate seeded into an emulator, with the findings it should produce.

``seed_estate(url, seed=..., regions=..., scale=..., lookback_days=...)`` creates resources with
boto3 (AssumeRole into ``account_id`` first, so moto files them under that account) and seeds
CloudWatch data generated hour by hour into the ``AWS/*`` namespaces (moto only; by default one
``StatisticValues`` datum per day summarizes the 24 hours, see ``series``). It returns
``EstateTruth``: for every resource the finding a careful FinOps engineer would expect from the
module defaults, or None. Tests and the demo compute precision/recall against it (``EstateTruth.score``).

The expected label of every resource (what the modules should conclude with their defaults)
is described in ``truth``'s docstring.

Emulator notes: moto stamps creation times "now", so on a server this process started
(``server.start_moto_server``) launch, volume and snapshot times are backdated in moto's
backends; on any other endpoint nothing is backdated and labels follow what is observable
(no snapshot is old then). Modules must judge data sufficiency from ``days_with_data``. RDS
databases and their snapshots are seeded by ``estate_databases``.
moto computes no p95, so modules see ``p95=None`` and fall back to the daily maximum.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3.session

from cloudios.domain.resource import EBS_SNAPSHOT, EBS_VOLUME, EC2_INSTANCE, EIP
from cloudios.emulators.aws import series as ts
from cloudios.emulators.aws.estate_databases import Databases
from cloudios.emulators.aws.estate_network import backdate_load_balancers, seed_network
from cloudios.emulators.aws.server import is_in_process
from cloudios.emulators.aws.truth import (
    EIP_IDLE,
    ELB_IDLE,
    GP2,
    GRAVITON,
    IDLE,
    IO_GP3,
    LOW_IO,
    LOW_IO_OPS_PER_DAY,
    NAT_IDLE,
    OLD_SNAPSHOT_DAYS,
    ORPHAN_MIN_DAYS,
    PREVGEN,
    RDS_IDLE,
    RDS_PREVGEN,
    RDS_RIGHTSIZE,
    RDS_SNAP_OLD,
    RIGHTSIZE,
    SNAP_OLD,
    SNAP_ORPHAN,
    STOPPED_DAYS,
    STOPPED_VOLUME,
    UNATTACHED,
    EstateTruth,
    Label,
    Score,
    VolumeSeen,
    snapshot_label,
    volume_label,
)

__all__ = [
    "EIP_IDLE",
    "ELB_IDLE",
    "GP2",
    "GRAVITON",
    "IDLE",
    "IO_GP3",
    "LOW_IO",
    "LOW_IO_OPS_PER_DAY",
    "NAT_IDLE",
    "OLD_SNAPSHOT_DAYS",
    "ORPHAN_MIN_DAYS",
    "PREVGEN",
    "RDS_IDLE",
    "RDS_PREVGEN",
    "RDS_RIGHTSIZE",
    "RDS_SNAP_OLD",
    "RIGHTSIZE",
    "SNAP_OLD",
    "SNAP_ORPHAN",
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
# 171-250 GB is left out: there gp3 at gp2's 250 MiB/s costs as much as gp2 (no saving, no finding).
VOLUME_SIZES = (50, 100, 150, 500)
ROOT_DEVICE = "/dev/sda1"  # what moto reports as every instance's RootDeviceName
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
        self.region, self.rng, self.truth, self.scale, self.now = region, rng, truth, scale, now
        self.series: list[ts.Series] = []
        self.by_profile: dict[str, list[str]] = {}
        self.launch_age: dict[str, int] = {}
        self.snapshot_age: dict[str, int] = {}
        self.stop_age: dict[str, int] = {}
        self.root_volume: dict[str, str] = {}  # instance -> root volume
        self.volume_io: dict[str, str] = {}  # volume -> I/O profile seeded (busy, quiet, ...)
        self.writer = ts.MetricWriter(self.cw, granularity=granularity)
        self.databases = Databases(self)
        self.vpc, self.zone = "", ""
        self.subnets: list[str] = []

    def count(self, n: int) -> int:
        """How many of ``n`` (per region at scale 1) to seed at this scale."""
        return _count(n, self.scale)

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
        seed_network(self)
        self.databases.seed()
        if self.truth.backdated:
            self.backdate()
            self.databases.backdate(self.truth.account_id, self.now)
            backdate_load_balancers(self, self.truth.account_id, self.now)
        self.label_storage()
        self.databases.label_snapshots(self.now)
        start = self.truth.end - timedelta(days=self.truth.lookback_days)
        ts.seed_series(self.writer, self.series, self.rng, start, self.truth.lookback_days)
        self.truth.put_metric_calls += self.writer.calls
        self.truth.datapoints += self.writer.datapoints

    def _windows_ami(self) -> str:
        """A Windows AMI: the region's own, else one registered and marked Windows in moto."""
        found = self.ec2.describe_images(Filters=[{"Name": "platform", "Values": ["windows"]}])["Images"]
        if found:
            return str(found[0]["ImageId"])
        if not self.truth.backdated:
            return WINDOWS_AMI  # not in this process: instances may not report Windows (see labels)
        from moto.ec2.models import ec2_backends  # noqa: PLC0415 - only with an in-process moto

        image = self.ec2.register_image(Name=f"windows-server-{self.region}", RootDeviceName=ROOT_DEVICE)[
            "ImageId"
        ]
        ec2_backends[self.truth.account_id][self.region].amis[image].platform = "windows"
        return str(image)

    def instances(self) -> None:
        windows_ami = self._windows_ami()
        for profile, types, cpu, network, root, expected, n, windows in ts.INSTANCE_FLEETS:
            for k in range(_count(n, self.scale)):
                itype = types[k % len(types)]
                launched = self.ec2.run_instances(
                    ImageId=windows_ami if windows else SAMPLE_AMI,
                    MinCount=1,
                    MaxCount=1,
                    InstanceType=itype,
                    Placement={"AvailabilityZone": self.zone},
                    BlockDeviceMappings=[
                        {"DeviceName": ROOT_DEVICE, "Ebs": {"VolumeSize": 20, "VolumeType": root}}
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
                )["Instances"][0]
                iid = launched["InstanceId"]
                for mapping in launched.get("BlockDeviceMappings", []):
                    if mapping.get("DeviceName") == ROOT_DEVICE:
                        self.root_volume[iid] = mapping["Ebs"]["VolumeId"]
                self.by_profile.setdefault(profile, []).append(iid)
                self.launch_age[iid] = THIN_DAYS if profile == "thin" else self.rng.randint(60, 400)
                # An endpoint that launched a "Windows" machine as Linux has an x86 Linux machine.
                linux = windows and launched.get("Platform") != "windows" and expected is None
                self.label(iid, EC2_INSTANCE, GRAVITON if linux else expected, profile)
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
                if profile.startswith("idle") and iid in self.root_volume:
                    # An idle machine's root volume is quiet too: not low_activity's (it is the root).
                    self.volume_io[self.root_volume[iid]] = "root-quiet"
                    self._volume_series(self.root_volume[iid], ts.rate(0, 1.5))

    def _volume_series(self, vid: str, hourly: ts.Hourly, days: int | None = None) -> None:
        for name in ("VolumeReadOps", "VolumeWriteOps"):
            self.series.append(ts.Series("AWS/EBS", name, "VolumeId", vid, hourly, days))

    def volumes(self) -> None:
        busy = self.by_profile["busy"]
        devices: dict[str, int] = {}
        for k, (vtype, io, iops, multi) in enumerate(ts.VOLUME_PLAN * _count(1, self.scale)):
            extra: dict[str, Any] = {"Iops": iops} if iops else {}
            if multi:
                extra["MultiAttachEnabled"] = True
            vid = self.ec2.create_volume(
                AvailabilityZone=self.zone,
                Size=self.rng.choice(VOLUME_SIZES),
                VolumeType=vtype,
                **extra,
            )["VolumeId"]
            if io is None:
                continue  # left unattached
            target = busy[k % len(busy)]
            devices[target] = devices.get(target, 0) + 1
            self.ec2.attach_volume(
                VolumeId=vid, InstanceId=target, Device=f"/dev/sd{chr(101 + devices[target])}"
            )
            self.volume_io[vid] = io
            self._volume_series(vid, ts.IO_RATES[io], THIN_DAYS if io.endswith("-thin") else None)

    def snapshots(self) -> None:
        # (age in days, keep the source volume): old ones with and without their volume, young ones.
        plan = [(200, True), (120, False), (400, True), (15, True), (12, False), (60, False)]
        for k in range(_count(1, self.scale)):
            for age, keep in plan:
                vid = self.ec2.create_volume(AvailabilityZone=self.zone, Size=100, VolumeType="gp3")[
                    "VolumeId"
                ]
                sid = self.ec2.create_snapshot(VolumeId=vid, Description=f"backup {age}d")["SnapshotId"]
                self.snapshot_age[sid] = age
                if not keep:
                    self.ec2.delete_volume(VolumeId=vid)
            created = self.ec2.create_image(
                InstanceId=self.by_profile["busy"][0], Name=f"golden-{self.region}"
            )
            # A registered AMI's snapshot has no existing source volume: orphan-like, but in use.
            registered = self.ec2.register_image(
                Name=f"registered-{self.region}-{k + 1}", RootDeviceName=ROOT_DEVICE
            )
            for image, age in ((created, 300), (registered, 200)):
                for ami in self.ec2.describe_images(ImageIds=[image["ImageId"]])["Images"]:
                    for mapping in ami.get("BlockDeviceMappings", []):
                        if mapping.get("Ebs", {}).get("SnapshotId"):
                            self.snapshot_age[mapping["Ebs"]["SnapshotId"]] = age

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

    def _volume_label(self, vol: dict[str, Any]) -> tuple[str | None, str]:
        """(expected module, profile) of a volume as the API reports it."""
        owner = vol["Attachments"][0].get("InstanceId") if vol["Attachments"] else None
        return volume_label(
            VolumeSeen(
                state=vol["State"],
                volume_type=vol["VolumeType"],
                iops=vol.get("Iops") or 0,
                multi_attach=bool(vol.get("MultiAttachEnabled")),
                io=self.volume_io.get(vol["VolumeId"], "attached" if owner else "unattached"),
                owner_running=owner is not None and owner not in self.stop_age,
                owner_stopped_days=self.stop_age.get(owner or "", 0) if self.truth.backdated else 0,
            )
        )

    def label_storage(self) -> None:
        """Volumes, snapshots and addresses are labelled from what the API now reports."""
        volumes = self.ec2.describe_volumes()["Volumes"]
        for vol in volumes:
            expected, profile = self._volume_label(vol)
            self.label(vol["VolumeId"], EBS_VOLUME, expected, profile)
        existing = {vol["VolumeId"] for vol in volumes}
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
            gone = snap.get("VolumeId") not in existing
            self.label(
                snap["SnapshotId"], EBS_SNAPSHOT, *snapshot_label(snap["SnapshotId"] in used, gone, age)
            )
        for addr in self.ec2.describe_addresses()["Addresses"]:
            associated = bool(addr.get("AssociationId"))
            self.label(
                addr["AllocationId"],
                EIP,
                None if associated else EIP_IDLE,
                "associated" if associated else "unassociated",
            )
