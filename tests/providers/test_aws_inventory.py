"""AWS provider inventory: every kind, every region, every page, exactly the documented keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudios.domain import Provider
from cloudios.domain.resource import (
    EBS_SNAPSHOT,
    EBS_VOLUME,
    EC2_INSTANCE,
    EIP,
    ELB,
    NAT_GATEWAY,
    RDS_INSTANCE,
    RDS_SNAPSHOT,
)
from cloudios.providers.aws.collect import collect
from cloudios.providers.aws.tuning import AwsTuning
from tests.providers.aws_helpers import ALL_KINDS, DOCUMENTED_KEYS, launch
from tests.support.moto import ACCOUNT_A, AwsEnv

pytestmark = pytest.mark.aws

REGIONS = ("us-east-1", "eu-west-1")


def _seed_region(env: AwsEnv, region: str) -> dict[str, set[str]]:
    """One or two resources of every kind in ``region``; returns kind -> ids."""
    ec2, elb, rds = env.clients(ACCOUNT_A, region, "ec2", "elbv2", "rds")
    subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
    zone = subnets[0]["AvailabilityZone"]
    running, stopped, gone = launch(ec2, 3)
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.terminate_instances(InstanceIds=[gone])
    spare = ec2.create_volume(AvailabilityZone=zone, Size=50, VolumeType="gp2")["VolumeId"]
    doomed = ec2.create_volume(AvailabilityZone=zone, Size=20, VolumeType="gp3")["VolumeId"]
    kept = ec2.create_snapshot(VolumeId=spare)["SnapshotId"]
    orphan = ec2.create_snapshot(VolumeId=doomed)["SnapshotId"]
    ec2.delete_volume(VolumeId=doomed)
    image = ec2.create_image(InstanceId=running, Name=f"img-{region}")["ImageId"]
    image_snaps = {
        m["Ebs"]["SnapshotId"]
        for i in ec2.describe_images(ImageIds=[image])["Images"]
        for m in i["BlockDeviceMappings"]
        if "SnapshotId" in m.get("Ebs", {})
    }
    free = ec2.allocate_address(Domain="vpc")["AllocationId"]
    bound = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=bound, InstanceId=running)
    nat = ec2.create_nat_gateway(SubnetId=subnets[0]["SubnetId"], ConnectivityType="private")
    lb = elb.create_load_balancer(
        Name=f"web-{region}", Subnets=[s["SubnetId"] for s in subnets[:2]], Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(
        Name=f"tg-{region}", Protocol="HTTP", Port=80, VpcId=subnets[0]["VpcId"], TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": running}])
    rds.create_db_instance(
        DBInstanceIdentifier=f"db-{region}",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
    )
    # Manual snapshots: of the live database, of a deleted one, of an Aurora cluster (moto also
    # takes automated snapshots, which are not inventoried).
    rds.create_db_instance(
        DBInstanceIdentifier=f"gone-{region}",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=30,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
    )
    live = rds.create_db_snapshot(DBInstanceIdentifier=f"db-{region}", DBSnapshotIdentifier="live-manual")
    dead = rds.create_db_snapshot(DBInstanceIdentifier=f"gone-{region}", DBSnapshotIdentifier="gone-manual")
    rds.delete_db_instance(DBInstanceIdentifier=f"gone-{region}", SkipFinalSnapshot=True)
    rds.create_db_cluster(
        DBClusterIdentifier=f"cluster-{region}",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
    )
    cluster = rds.create_db_cluster_snapshot(
        DBClusterIdentifier=f"cluster-{region}", DBClusterSnapshotIdentifier="cluster-manual"
    )
    volumes = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    return {
        EC2_INSTANCE: {running, stopped},
        EBS_VOLUME: volumes,
        EBS_SNAPSHOT: {kept, orphan, *image_snaps},
        EIP: {free, bound},
        NAT_GATEWAY: {nat["NatGateway"]["NatGatewayId"]},
        ELB: {lb},
        RDS_INSTANCE: {f"db-{region}"},
        RDS_SNAPSHOT: {
            live["DBSnapshot"]["DBSnapshotArn"],
            dead["DBSnapshot"]["DBSnapshotArn"],
            cluster["DBClusterSnapshot"]["DBClusterSnapshotArn"],
        },
        "_details": {running, stopped, spare, kept, orphan, free, bound, image, *image_snaps},
    }


def test_every_kind_in_every_region_with_the_documented_attributes(aws_env: AwsEnv) -> None:
    seeded = {region: _seed_region(aws_env, region) for region in REGIONS}
    request = aws_env.request(ACCOUNT_A, regions=REGIONS, kinds=ALL_KINDS)

    result = collect(request)
    snapshot = result.snapshot

    for region in REGIONS:
        for kind in ALL_KINDS:
            found = {r.id for r in snapshot.resources if r.region == region and r.kind == kind}
            assert found == seeded[region][kind], (region, kind)
    for resource in snapshot.resources:
        assert resource.provider is Provider.AWS
        assert resource.account_id == ACCOUNT_A
        assert set(resource.attributes) == DOCUMENTED_KEYS[resource.kind], resource.kind
        for value in [resource.created_at, *resource.attributes.values()]:
            if isinstance(value, datetime):
                assert value.tzinfo is not None
                assert value.utcoffset() == UTC.utcoffset(value)


def test_attributes_describe_state_and_relations(aws_env: AwsEnv) -> None:
    seeded = _seed_region(aws_env, "us-east-1")
    snapshot = collect(aws_env.request(ACCOUNT_A, kinds=ALL_KINDS)).snapshot
    by_id = {r.id: r for r in snapshot.resources}

    instances = [by_id[i] for i in seeded[EC2_INSTANCE]]
    assert {i.attr("state") for i in instances} == {"running", "stopped"}
    assert {(i.attr("instanceType"), i.attr("platform")) for i in instances} == {("m5.large", "linux")}

    volumes = [by_id[v] for v in seeded[EBS_VOLUME]]
    unattached = [v for v in volumes if v.attr("state") == "available"]
    assert [v.attr("volumeType") for v in unattached] == ["gp2"]
    assert unattached[0].attr("attachedTo") is None
    assert all(v.attr("attachedTo") in seeded[EC2_INSTANCE] for v in volumes if v.attr("state") == "in-use")

    snaps = [by_id[s] for s in seeded[EBS_SNAPSHOT]]
    assert sorted(s.attr("sourceVolumeExists") for s in snaps if s.attr("usedByImage") is None) == [
        False,
        True,
    ]
    assert {s.attr("usedByImage") for s in snaps} - {None}  # the AMI's snapshot points at the AMI

    eips = {by_id[e].attr("associationId") is not None for e in seeded[EIP]}
    assert eips == {True, False}
    lb = by_id[next(iter(seeded[ELB]))]
    assert lb.attr("type") == "application"
    assert lb.attr("arnSuffix").startswith("app/web-us-east-1/")
    assert (lb.attr("targetGroups"), lb.attr("registeredTargets"), lb.attr("healthyTargets")) == (1, 1, 1)
    running = [i.id for i in instances if i.attr("state") == "running"]
    assert lb.attr("targetInstances") == running  # the instance registered behind it
    db = by_id["db-us-east-1"]
    assert (db.attr("engine"), db.attr("dbInstanceClass"), db.attr("multiAz")) == (
        "postgres",
        "db.t3.micro",
        False,
    )
    nat = by_id[next(iter(seeded[NAT_GATEWAY]))]
    assert nat.attr("connectivityType") == "private"
    rds_snaps = {by_id[s].attr("identifier"): by_id[s] for s in seeded[RDS_SNAPSHOT]}
    assert {k: (s.attr("cluster"), s.attr("sourceExists")) for k, s in rds_snaps.items()} == {
        "live-manual": (False, True),
        "gone-manual": (False, False),
        "cluster-manual": (True, True),
    }
    assert {s.attr("snapshotType") for s in rds_snaps.values()} == {"manual"}
    assert rds_snaps["gone-manual"].attr("sourceId") == "gone-us-east-1"
    assert (rds_snaps["gone-manual"].attr("engine"), rds_snaps["gone-manual"].attr("allocatedStorageGb")) == (
        "postgres",
        30,
    )
    root = by_id[next(iter(seeded["_details"] & seeded[EC2_INSTANCE]))].attr("rootDeviceName")
    assert root
    assert any(v.attr("device") == root for v in volumes)  # the running instance's root volume
    assert {v.attr("multiAttach") for v in volumes} == {False}


def test_every_page_is_read(aws_env: AwsEnv) -> None:
    ec2, elb, rds = aws_env.clients(ACCOUNT_A, "us-east-1", "ec2", "elbv2", "rds")
    instances = set(launch(ec2, 12))  # one reservation each: moto pages DescribeInstances by reservation
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    lbs = {
        elb.create_load_balancer(Name=f"lb-{i}", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        for i in range(7)
    }
    for i in range(5):
        rds.create_db_instance(
            DBInstanceIdentifier=f"db-{i}",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="not-a-real-password",
        )

    result = collect(
        aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE, ELB, RDS_INSTANCE]), tuning=AwsTuning(page_size=5)
    )
    snapshot = result.snapshot

    assert {r.id for r in snapshot.of_kind(EC2_INSTANCE)} == instances
    assert {r.id for r in snapshot.of_kind(ELB)} == lbs
    assert len(snapshot.of_kind(RDS_INSTANCE)) == 5
    assert result.api_calls["ec2.DescribeInstances"] == 3  # 12 reservations / 5 per page
    assert result.api_calls["elbv2.DescribeLoadBalancers"] == 2  # 7 / 5
    assert result.api_calls["rds.DescribeDBInstances"] == 1  # 5 / 5, no marker back


def test_only_requested_kinds_are_described(aws_env: AwsEnv) -> None:
    launch(aws_env.client("ec2", ACCOUNT_A), 1)

    result = collect(aws_env.request(ACCOUNT_A, regions=REGIONS, kinds=[EC2_INSTANCE, "gce.instance"]))

    described = {op for op in result.api_calls if not op.startswith("sts.")}
    assert described == {"ec2.DescribeInstances"}
    assert result.api_calls["ec2.DescribeInstances"] == 2  # one per region
    assert result.api_calls["sts.AssumeRole"] == 1
    assert result.api_calls["sts.GetCallerIdentity"] == 1
    assert any("gce.instance" in w for w in result.warnings)
