"""gcp.address.unused: reserved static external IP addresses that no resource uses; release them."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.gcp import GCE_ADDRESS
from cloudios.modules.base import Module, ModuleSpec
from cloudios.modules.gcp import _common as common


class AddressUnusedSettings(common.GcpSettings):
    """Thresholds of gcp.address.unused."""

    min_age_days: int = Field(
        default=1, ge=0, le=3650, description="Days since the address was reserved before it is reported."
    )


SPEC = ModuleSpec(
    name="gcp.address.unused",
    provider=Provider.GCP,
    category=Category.ORPHANED,
    summary="Static external IP addresses in status RESERVED (used by nothing); release them. "
    "Internal addresses cost nothing and are skipped. Inventory only: high confidence.",
    resource_kinds=(GCE_ADDRESS,),
    permissions=("compute.addresses.list", "compute.globalAddresses.list"),
    settings=AddressUnusedSettings,
)


def evaluate(snapshot: Snapshot, settings: AddressUnusedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for address in snapshot.of_kind(GCE_ADDRESS):
        if address.attr("addressType", "EXTERNAL") != "EXTERNAL" or address.attr("status") != "RESERVED":
            continue
        if address.attr("users"):
            continue
        age = common.days_since(address, snapshot.collected_at)
        if age is not None and age < settings.min_age_days:
            continue
        findings.append(
            common.build_finding(
                SPEC,
                address,
                action=Action.RELEASE,
                title=f"Release unused static IP {common.label(address)} ({address.attr('address')})",
                confidence=Confidence.HIGH,
                current={"address": address.attr("address"), "status": "RESERVED"},
                proposed={"state": "released"},
                evidence=common.evidence(settings, None, reservedDays=None if age is None else round(age, 1)),
                current_usage=[Usage(sku="gce.address", region=address.region)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)
