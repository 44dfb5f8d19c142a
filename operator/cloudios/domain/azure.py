"""Azure resource kinds and the attribute keys the Azure provider fills (modules rely on these names)."""

from __future__ import annotations

VM = "azure.vm"
"""attributes: vmSize (e.g. Standard_D4s_v5), powerState (running|stopped|deallocated|starting|
stopping|deallocating|unknown), os (linux|windows), resourceGroup, timeCreated, scaleSetId (or None),
priority (Regular|Spot|Low)."""
DISK = "azure.disk"
"""attributes: sku (Premium_LRS|StandardSSD_LRS|Standard_LRS|Premium_ZRS|StandardSSD_ZRS|
PremiumV2_LRS|UltraSSD_LRS), diskSizeGb, tier (P10, E10, S10, ... or None), diskState (Unattached|
Attached|Reserved|ActiveSAS|...), managedBy (VM id or None), timeCreated, lastOwnershipUpdateTime
(when the disk was last attached or detached, or None)."""
PUBLIC_IP = "azure.publicip"
"""attributes: sku (Basic|Standard), allocationMethod (Static|Dynamic), version (IPv4|IPv6),
ipAddress, ipConfigurationId (or None), natGatewayId (or None), timeCreated (may be None)."""
SNAPSHOT = "azure.snapshot"
"""attributes: sku (Standard_LRS|Standard_ZRS|Premium_LRS), diskSizeGb, incremental (bool),
timeCreated, sourceResourceId (or None)."""
LOAD_BALANCER = "azure.lb"
"""attributes: sku (Basic|Standard|Gateway), backendPools (count), backendTargets (count of NIC IP
configurations and addresses in all pools), rules (load-balancing + outbound rules), inboundNatRules,
frontendIps (counts)."""

KINDS = (VM, DISK, PUBLIC_IP, SNAPSHOT, LOAD_BALANCER)
