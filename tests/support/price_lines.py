"""Usage lines and findings for the price-book tests."""

from __future__ import annotations

from decimal import Decimal

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Usage


def usage(sku: str, region: str = "us-east-1", quantity: int | str = 1, **attributes: str) -> Usage:
    return Usage(sku=sku, region=region, attributes=attributes, quantity=Decimal(quantity))


def finding(current: list[Usage], proposed: list[Usage]) -> Finding:
    return Finding(
        id="x",
        provider=Provider.AWS,
        account_id="123456789012",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id="i-1",
        module="aws.ec2.rightsize",
        category=Category.RIGHTSIZE,
        action=Action.RESIZE,
        title="t",
        confidence=Confidence.MEDIUM,
        current_usage=tuple(current),
        proposed_usage=tuple(proposed),
    )
