"""aws.eip.unassociated: Elastic IP addresses associated with nothing; proposes releasing them.

High confidence: the address is billed (0.005 USD/h per public IPv4) whatever its traffic, and
an unassociated address serves nothing. Releasing loses the address: keep it if it is allow-listed
somewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.resource import EIP
from cloudios.modules.aws import _common as common
from cloudios.modules.base import Module, ModuleSpec


class EipUnassociatedSettings(common.AwsSettings):
    """aws.eip.unassociated has no thresholds."""


SPEC = ModuleSpec(
    name="aws.eip.unassociated",
    provider=Provider.AWS,
    category=Category.ORPHANED,
    summary="Elastic IP addresses without an association; release them. Savings are the public "
    "IPv4 hourly charge x 730.",
    resource_kinds=(EIP,),
    permissions=("ec2:DescribeAddresses",),
    settings=EipUnassociatedSettings,
)


def evaluate(snapshot: Snapshot, settings: EipUnassociatedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for address in snapshot.of_kind(EIP):
        if address.attr("associationId"):
            continue
        public_ip = address.attr("publicIp")
        findings.append(
            common.build_finding(
                SPEC,
                address,
                action=Action.RELEASE,
                title=f"Release unassociated Elastic IP {public_ip or address.id}",
                confidence=Confidence.HIGH,
                current={"publicIp": public_ip, "associated": False},
                proposed={"state": "released"},
                evidence=common.evidence(
                    settings,
                    None,
                    allocationId=address.attr("allocationId"),
                    note="Releasing gives the address back to AWS; it cannot always be recovered.",
                ),
                current_usage=[Usage(sku="ec2.eip", region=address.region)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)
