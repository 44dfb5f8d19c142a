"""The sample estate's network: Elastic IPs, NAT gateways and load balancers, their series, labels."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Protocol

from cloudios.domain.resource import ELB, NAT_GATEWAY
from cloudios.emulators.aws import series as ts
from cloudios.emulators.aws.truth import ELB_IDLE, NAT_IDLE


class Region(Protocol):
    """What the network needs of the region being seeded (sample_estate's _Region)."""

    ec2: Any
    elb: Any
    region: str
    rng: random.Random
    series: list[ts.Series]
    by_profile: dict[str, list[str]]
    subnets: list[str]
    vpc: str

    def count(self, n: int) -> int: ...

    def label(self, rid: str, kind: str, expected: str | None, profile: str) -> None: ...


def seed_network(region: Region) -> None:
    """Addresses (labelled later, from what the API reports), NAT gateways, load balancers."""
    addresses(region)
    nat_gateways(region)
    load_balancers(region)


def addresses(region: Region) -> None:
    busy = region.by_profile["busy"]
    for k in range(2 * region.count(1)):
        alloc = region.ec2.allocate_address(Domain="vpc")["AllocationId"]
        region.ec2.associate_address(AllocationId=alloc, InstanceId=busy[k % len(busy)])
    for _ in range(2 * region.count(1)):
        region.ec2.allocate_address(Domain="vpc")


def nat_gateways(region: Region) -> None:
    for profile, traffic, expected in (
        ("busy", ts.rate(100 * ts.MB, 2000 * ts.MB), None),
        ("idle", ts.rate(1 * ts.KB, 15 * ts.KB), NAT_IDLE),
    ):
        for _ in range(region.count(1)):
            alloc = region.ec2.allocate_address(Domain="vpc")["AllocationId"]
            nat = region.ec2.create_nat_gateway(SubnetId=region.subnets[0], AllocationId=alloc)["NatGateway"]
            region.label(nat["NatGatewayId"], NAT_GATEWAY, expected, profile)
            for name in ("BytesOutToDestination", "BytesInFromDestination"):
                region.series.append(
                    ts.Series("AWS/NATGateway", name, "NatGatewayId", nat["NatGatewayId"], traffic)
                )


def load_balancers(region: Region) -> None:
    busy = region.by_profile["busy"]
    # (profile, type, targets, requests per hour, label)
    plan: tuple[tuple[str, str, list[str], ts.Hourly | None, str | None], ...] = (
        ("busy", "application", busy[:2], ts.rate(2000, 20000), None),
        ("no-targets", "application", [], None, ELB_IDLE),
        ("no-requests", "application", busy[:1], ts.rate(0, 3), ELB_IDLE),
        ("busy-nlb", "network", busy[1:2], ts.rate(500, 5000), None),
    )
    elb = region.elb
    for k in range(region.count(1)):
        for profile, lb_type, targets, requests, expected in plan:
            name = f"{profile}-{k + 1}"
            lb = elb.create_load_balancer(Name=name, Subnets=region.subnets, Type=lb_type)["LoadBalancers"][0]
            arn = lb["LoadBalancerArn"]
            protocol = "HTTP" if lb_type == "application" else "TCP"
            tg = elb.create_target_group(
                Name=f"tg-{name}", Protocol=protocol, Port=80, VpcId=region.vpc, TargetType="instance"
            )["TargetGroups"][0]["TargetGroupArn"]
            elb.create_listener(
                LoadBalancerArn=arn,
                Protocol=protocol,
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
            )
            if targets:
                elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": t} for t in targets])
            region.label(arn, ELB, expected, profile)
            if requests is not None:
                namespace, metric = (
                    ("AWS/ApplicationELB", "RequestCount")
                    if lb_type == "application"
                    else ("AWS/NetworkELB", "NewFlowCount")
                )
                suffix = arn.split(":loadbalancer/", 1)[1]
                region.series.append(ts.Series(namespace, metric, "LoadBalancer", suffix, requests))


def backdate_load_balancers(region: Region, account_id: str, now: datetime) -> None:
    """Load balancers were created 30-300 days ago (moto stamps "now"; a brand-new one is not idle)."""
    from moto.elbv2.models import elbv2_backends  # noqa: PLC0415 - only with an in-process moto

    naive = now.replace(tzinfo=None)  # moto keeps naive UTC times
    for balancer in elbv2_backends[account_id][region.region].load_balancers.values():
        created = naive - timedelta(days=region.rng.randint(30, 300))
        balancer.created_time = created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
