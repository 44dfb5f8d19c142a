"""azure.publicip.unassociated: static public IP addresses associated with nothing; proposes deleting them.

An address with no IP configuration (NIC, load balancer frontend, gateway) and no NAT gateway is
billed every hour and serves nothing. Dynamic Basic addresses hold no address while unassociated
and cost nothing, so they are skipped. High confidence; deleting loses the address, so keep it if
it is allow-listed somewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.azure import PUBLIC_IP
from cloudios.modules import shared
from cloudios.modules.azure import _common as common
from cloudios.modules.base import Module, ModuleSpec


class PublicIpSettings(common.AzureSettings):
    """azure.publicip.unassociated has no thresholds."""


SPEC = ModuleSpec(
    name="azure.publicip.unassociated",
    provider=Provider.AZURE,
    category=Category.ORPHANED,
    summary="Static public IP addresses without an IP configuration or NAT gateway; delete them. "
    "Savings are the address's hourly price x 730.",
    resource_kinds=(PUBLIC_IP,),
    permissions=(common.GRAPH_READ, common.PUBLIC_IP_READ),
    settings=PublicIpSettings,
)


def evaluate(snapshot: Snapshot, settings: PublicIpSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for address in snapshot.of_kind(PUBLIC_IP):
        if address.attr("ipConfigurationId") or address.attr("natGatewayId"):
            continue
        if str(address.attr("allocationMethod") or "Static") != "Static":
            continue
        sku = str(address.attr("sku") or "Standard")
        ip = address.attr("ipAddress")
        findings.append(
            shared.build_finding(
                SPEC,
                address,
                action=Action.RELEASE,
                title=f"Delete unassociated public IP {shared.label(address)} ({ip or 'no address'})",
                confidence=Confidence.HIGH,
                current={"ipAddress": ip, "sku": sku, "associated": False},
                proposed={"state": "deleted"},
                evidence=shared.evidence(
                    settings,
                    None,
                    note="Deleting returns the address to Azure; it cannot be recovered.",
                ),
                current_usage=[
                    Usage(
                        sku="azure.publicip",
                        region=address.region,
                        attributes={"sku": sku, "version": str(address.attr("version") or "IPv4")},
                    )
                ],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)
