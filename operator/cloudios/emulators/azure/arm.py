"""Estate resources as the ARM objects Azure Resource Graph returns (id, type, location, sku, properties)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudios.domain import azure as kinds
from cloudios.emulators.azure.estate import EstateResource

ARM_TYPES = {
    kinds.VM: "microsoft.compute/virtualmachines",
    kinds.DISK: "microsoft.compute/disks",
    kinds.PUBLIC_IP: "microsoft.network/publicipaddresses",
    kinds.SNAPSHOT: "microsoft.compute/snapshots",
    kinds.LOAD_BALANCER: "microsoft.network/loadbalancers",
}
DEFAULT_CREATED = "2025-01-01T00:00:00+00:00"


def _vm(r: EstateResource) -> dict[str, Any]:
    a = r.attributes
    props: dict[str, Any] = {
        "hardwareProfile": {"vmSize": a.get("vmSize", "Standard_D2s_v5")},
        "storageProfile": {"osDisk": {"osType": "Windows" if a.get("os") == "windows" else "Linux"}},
        "timeCreated": a.get("timeCreated", DEFAULT_CREATED),
        "priority": a.get("priority", "Regular"),
        "extended": {
            "instanceView": {"powerState": {"code": f"PowerState/{a.get('powerState', 'running')}"}}
        },
    }
    if a.get("scaleSetId"):
        props["virtualMachineScaleSet"] = {"id": a["scaleSetId"]}
    return {"properties": props}


def _disk(r: EstateResource) -> dict[str, Any]:
    a = r.attributes
    props: dict[str, Any] = {
        "diskSizeGB": a.get("diskSizeGb", 128),
        "diskState": a.get("diskState", "Unattached"),
        "timeCreated": a.get("timeCreated", DEFAULT_CREATED),
    }
    if a.get("lastOwnershipUpdateTime"):
        props["LastOwnershipUpdateTime"] = a["lastOwnershipUpdateTime"]
    if a.get("tier"):
        props["tier"] = a["tier"]
    return {
        "sku": {"name": a.get("sku", "Premium_LRS")},
        "managedBy": a.get("managedBy"),
        "properties": props,
    }


def _public_ip(r: EstateResource) -> dict[str, Any]:
    a = r.attributes
    props: dict[str, Any] = {
        "publicIPAllocationMethod": a.get("allocationMethod", "Static"),
        "publicIPAddressVersion": a.get("version", "IPv4"),
    }
    if a.get("ipAddress"):
        props["ipAddress"] = a["ipAddress"]
    if a.get("ipConfigurationId"):
        props["ipConfiguration"] = {"id": a["ipConfigurationId"]}
    if a.get("natGatewayId"):
        props["natGateway"] = {"id": a["natGatewayId"]}
    return {"sku": {"name": a.get("sku", "Standard")}, "properties": props}


def _snapshot(r: EstateResource) -> dict[str, Any]:
    a = r.attributes
    props: dict[str, Any] = {
        "diskSizeGB": a.get("diskSizeGb", 128),
        "timeCreated": a.get("timeCreated", DEFAULT_CREATED),
        "incremental": bool(a.get("incremental", False)),
        "creationData": {"createOption": "Copy", "sourceResourceId": a.get("sourceResourceId")},
    }
    return {"sku": {"name": a.get("sku", "Standard_LRS")}, "properties": props}


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else 0


def _lb(r: EstateResource) -> dict[str, Any]:
    a = r.attributes
    pools = max(_count(a.get("backendPools", 1)), 1 if _count(a.get("backendTargets")) else 0)
    targets = _count(a.get("backendTargets"))
    backend_pools = [
        {
            "id": f"{r.id}/backendAddressPools/pool{i}",
            "properties": {
                "backendIPConfigurations": [
                    {"id": f"{r.id}-nic{j}/ipConfigurations/ipconfig1"}
                    for j in range(targets if i == 0 else 0)
                ]
            },
        }
        for i in range(pools)
    ]
    rules = [{"id": f"{r.id}/loadBalancingRules/rule{i}"} for i in range(_count(a.get("rules")))]
    frontends = [
        {"id": f"{r.id}/frontendIPConfigurations/fe{i}"} for i in range(_count(a.get("frontendIps", 1)))
    ]
    return {
        "sku": {"name": a.get("sku", "Standard")},
        "properties": {
            "backendAddressPools": backend_pools,
            "loadBalancingRules": rules,
            "outboundRules": [],
            "inboundNatRules": [],
            "frontendIPConfigurations": frontends,
        },
    }


_BUILDERS: dict[str, Callable[[EstateResource], dict[str, Any]]] = {
    kinds.VM: _vm,
    kinds.DISK: _disk,
    kinds.PUBLIC_IP: _public_ip,
    kinds.SNAPSHOT: _snapshot,
    kinds.LOAD_BALANCER: _lb,
}


def arm_object(resource: EstateResource, subscription: str) -> dict[str, Any]:
    """The resource as a Resource Graph row (the columns Cloudios projects)."""
    body = _BUILDERS[resource.kind](resource)
    resource_group = (
        resource.id.split("/resourceGroups/")[-1].split("/")[0] if "/resourceGroups/" in resource.id else ""
    )
    return {
        "id": resource.id,
        "name": resource.name or resource.id.rsplit("/", 1)[-1],
        "type": ARM_TYPES[resource.kind],
        "location": resource.region,
        "resourceGroup": resource_group,
        "subscriptionId": subscription,
        "tags": dict(resource.labels),
        "sku": body.get("sku"),
        "managedBy": body.get("managedBy"),
        "properties": body["properties"],
    }
