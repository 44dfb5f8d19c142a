"""Findings: what a module concludes about one resource, with evidence and what it would cost."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cloudios.domain.enums import Action, Category, Confidence, Provider
from cloudios.domain.money import DecimalStr, Money
from cloudios.domain.text import UntrustedText, printable


class Usage(BaseModel):
    """A billable line the pricing package can price per month.

    ``sku`` names what is billed; ``attributes`` select the price; ``quantity`` scales it:
    - ``ec2.instance`` {instanceType, os, sqlServer?}: 1 per instance (hourly x 730); os linux|windows|
      rhel|suse, sqlServer web|standard|enterprise for SQL Server license-included AMIs
    - ``ebs.volume`` {volumeType}: GB-month; ``ebs.iops`` {volumeType}: provisioned IOPS-month;
      ``ebs.throughput`` {volumeType}: MiB/s-month above the included baseline
    - ``ebs.snapshot`` {}: GB-month
    - ``ec2.eip`` {}: 1 per idle public IPv4 address (hourly x 730)
    - ``elb`` {type: application|network|gateway}: 1 per load balancer (hourly x 730)
    - ``nat.gateway`` {}: 1 per gateway (hourly x 730)
    - ``rds.instance`` {dbInstanceClass, engine, multiAz, licenseModel?, storageType?}: 1 per instance
      (hourly x 730); Oracle and Db2 need licenseModel, Aurora storageType (aurora|aurora-iopt1)
    - ``rds.storage`` {storageType, multiAz}: GB-month
    - ``rds.snapshot`` {engine}: GB-month of manual snapshot (backup) storage
    """

    model_config = ConfigDict(frozen=True)

    sku: str
    region: str
    attributes: dict[str, str] = Field(default_factory=dict)
    quantity: DecimalStr = Decimal(1)


class Finding(BaseModel):
    """One recommended action on one resource."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable: same resource and module give the same id across scans.")
    provider: Provider
    account_id: str
    region: str
    resource_type: str
    resource_id: str
    resource_name: UntrustedText | None = None
    module: str
    category: Category
    action: Action
    title: Annotated[str, AfterValidator(printable)] = Field(description="Shown as plain text, never markup.")
    confidence: Confidence
    current: dict[str, Any] = Field(default_factory=dict)
    proposed: dict[str, Any] = Field(default_factory=dict)
    evidence: dict[str, Any] = Field(default_factory=dict)
    current_usage: tuple[Usage, ...] = ()
    proposed_usage: tuple[Usage, ...] = ()
    monthly_savings: Money | None = None
    price_basis: str | None = None
    unpriced_reason: str | None = Field(
        default=None,
        description="Why the saving is unknown (no list price for a usage line); None when priced.",
    )

    @staticmethod
    def make_id(provider: Provider | str, account_id: str, region: str, resource_id: str, module: str) -> str:
        key = "\x1f".join([str(provider), account_id, region, resource_id, module])
        return hashlib.sha256(key.encode()).hexdigest()[:20]
