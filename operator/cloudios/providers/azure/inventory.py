"""Inventory through Azure Resource Graph: one query per resource kind for the subscription, paged by 1,000.

Each row is the resource's ARM object (``properties`` as ARM returns them; for VMs Resource Graph adds
``properties.extended.instanceView.powerState``). ``parse`` turns it into a ``Resource`` with the
attribute names of ``cloudios.domain.azure``; everything is tagged with the request's subscription.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError

from cloudios.domain import Provider, Resource
from cloudios.domain import azure as kinds
from cloudios.providers.azure.auth import AccountClients
from cloudios.providers.azure.errors import translate
from cloudios.providers.base import ProviderError

ARM_TYPES: Mapping[str, str] = {
    kinds.VM: "microsoft.compute/virtualmachines",
    kinds.DISK: "microsoft.compute/disks",
    kinds.PUBLIC_IP: "microsoft.network/publicipaddresses",
    kinds.SNAPSHOT: "microsoft.compute/snapshots",
    kinds.LOAD_BALANCER: "microsoft.network/loadbalancers",
}
KNOWN_KINDS = frozenset(ARM_TYPES)
_PROJECT = "project id, name, type, location, resourceGroup, tags, sku, managedBy, properties"


def query(kind: str) -> str:
    """The Resource Graph query of one kind."""
    return f"Resources | where type =~ '{ARM_TYPES[kind]}' | {_PROJECT} | order by id asc"


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _vm(row: Mapping[str, Any]) -> dict[str, Any]:
    props = row.get("properties") or {}
    code = str(_get(props, "extended", "instanceView", "powerState", "code") or "PowerState/unknown")
    os_type = str(_get(props, "storageProfile", "osDisk", "osType") or "Linux").lower()
    return {
        "vmSize": _get(props, "hardwareProfile", "vmSize"),
        "powerState": code.split("/", 1)[-1].lower(),
        "os": "windows" if os_type == "windows" else "linux",
        "timeCreated": props.get("timeCreated"),
        "scaleSetId": _get(props, "virtualMachineScaleSet", "id"),
        "priority": props.get("priority") or "Regular",
    }


def _disk(row: Mapping[str, Any]) -> dict[str, Any]:
    props = row.get("properties") or {}
    return {
        "sku": _get(row, "sku", "name"),
        "diskSizeGb": props.get("diskSizeGB"),
        "tier": props.get("tier"),
        "diskState": props.get("diskState"),
        "managedBy": row.get("managedBy") or None,
        "timeCreated": props.get("timeCreated"),
        "lastOwnershipUpdateTime": props.get("LastOwnershipUpdateTime")
        or props.get("lastOwnershipUpdateTime"),
    }


def _public_ip(row: Mapping[str, Any]) -> dict[str, Any]:
    props = row.get("properties") or {}
    return {
        "sku": _get(row, "sku", "name") or "Basic",
        "allocationMethod": props.get("publicIPAllocationMethod"),
        "version": props.get("publicIPAddressVersion") or "IPv4",
        "ipAddress": props.get("ipAddress"),
        "ipConfigurationId": _get(props, "ipConfiguration", "id"),
        "natGatewayId": _get(props, "natGateway", "id"),
    }


def _snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    props = row.get("properties") or {}
    return {
        "sku": _get(row, "sku", "name"),
        "diskSizeGb": props.get("diskSizeGB"),
        "incremental": bool(props.get("incremental")),
        "timeCreated": props.get("timeCreated"),
        "sourceResourceId": _get(props, "creationData", "sourceResourceId"),
    }


def _lb(row: Mapping[str, Any]) -> dict[str, Any]:
    props = row.get("properties") or {}
    pools = props.get("backendAddressPools") or []
    targets = sum(
        len(_get(p, "properties", "backendIPConfigurations") or [])
        + len(_get(p, "properties", "loadBalancerBackendAddresses") or [])
        for p in pools
    )
    return {
        "sku": _get(row, "sku", "name") or "Basic",
        "backendPools": len(pools),
        "backendTargets": targets,
        "rules": len(props.get("loadBalancingRules") or []) + len(props.get("outboundRules") or []),
        "inboundNatRules": len(props.get("inboundNatRules") or []),
        "frontendIps": len(props.get("frontendIPConfigurations") or []),
    }


_PARSERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    kinds.VM: _vm,
    kinds.DISK: _disk,
    kinds.PUBLIC_IP: _public_ip,
    kinds.SNAPSHOT: _snapshot,
    kinds.LOAD_BALANCER: _lb,
}


def parse(kind: str, row: Mapping[str, Any], subscription: str) -> Resource:
    """One Resource Graph row as a Resource of ``kind`` in ``subscription``."""
    attributes = _PARSERS[kind](row)
    created = attributes.get("timeCreated")
    return Resource(
        provider=Provider.AZURE,
        account_id=subscription,
        region=str(row.get("location") or "").lower(),
        kind=kind,
        id=str(row["id"]),
        name=row.get("name"),
        tags={str(k): str(v) for k, v in (row.get("tags") or {}).items()},
        created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
        attributes={"resourceGroup": row.get("resourceGroup"), **attributes},
    )


def list_kind(clients: AccountClients, kind: str) -> list[Resource]:
    """Every resource of ``kind`` in the account's subscription (one query, paged)."""
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions  # noqa: PLC0415

    subscription = clients.azure.subscription_id
    found: list[Resource] = []
    skip: str | None = None
    while True:
        request = QueryRequest(
            subscriptions=[subscription],
            query=query(kind),
            options=QueryRequestOptions(
                top=clients.tuning.graph_page, skip_token=skip, result_format="objectArray"
            ),
        )
        try:
            page = clients.graph().resources(request)
        except AzureError as exc:
            raise translate(exc, operation="Microsoft.ResourceGraph/resources", where=subscription) from None
        found.extend(parse(kind, row, subscription) for row in page.data or [])
        skip = page.skip_token
        if not skip:
            return found


def probe(clients: AccountClients) -> str:
    """The subscription's display name, seen through Resource Graph with the account's identity."""
    from azure.mgmt.resourcegraph.models import QueryRequest  # noqa: PLC0415

    subscription = clients.azure.subscription_id
    request = QueryRequest(
        subscriptions=[subscription],
        query="ResourceContainers | where type =~ 'microsoft.resources/subscriptions' "
        "| project subscriptionId, name",
    )
    try:
        page = clients.graph().resources(request)
    except AzureError as exc:
        raise translate(exc, operation="Microsoft.ResourceGraph/resources", where=subscription) from None
    rows = [r for r in page.data or [] if str(r.get("subscriptionId", "")).lower() == subscription.lower()]
    if not rows:
        raise ProviderError(
            "SubscriptionNotAccessible",
            f"the identity {clients.azure.client_id} signed in but cannot read subscription {subscription}: "
            "assign it the Cloudios role (docs/providers/azure.md) or Reader on the subscription, or fix "
            "spec.azure.subscriptionId.",
        )
    return str(rows[0].get("name") or subscription)
