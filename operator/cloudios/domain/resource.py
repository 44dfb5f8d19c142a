"""Inventory: one cloud resource as a provider reports it, with kind-specific attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cloudios.domain.enums import Provider
from cloudios.domain.text import UntrustedText, printable

# Resource kinds and the attribute keys providers fill for each (modules rely on these names).
EC2_INSTANCE = "ec2.instance"
"""attributes: instanceType, state (running|stopped|...), platform (linux|windows), launchTime,
architecture, autoScalingGroup (name or None), stoppedAt (when a stopped instance stopped, from
its state transition reason, or None), rootDeviceName (e.g. /dev/xvda, or None)."""
EBS_VOLUME = "ebs.volume"
"""attributes: volumeType (gp2|gp3|io1|io2|st1|sc1|standard), sizeGb, iops, throughput, state
(available|in-use), attachedTo (instance id or None), device (the attachment's device name, or
None), multiAttach (bool), createTime."""
EBS_SNAPSHOT = "ebs.snapshot"
"""attributes: sizeGb, startTime, volumeId, description, sourceVolumeExists (bool),
usedByImage (AMI id or None)."""
EIP = "ec2.eip"
"""attributes: publicIp, allocationId, associationId (or None), instanceId, networkInterfaceId."""
ELB = "elbv2.loadbalancer"
"""attributes: type (application|network|gateway), scheme, state, arnSuffix ('app/name/id'),
targetGroups (count), registeredTargets (count), healthyTargets (count), targetInstances (sorted ids of
the EC2 instances registered in its instance-type target groups), createdTime."""
RDS_INSTANCE = "rds.instance"
"""attributes: dbInstanceClass, engine, multiAz (bool), allocatedStorageGb, storageType, status."""
RDS_SNAPSHOT = "rds.snapshot"
"""A manual RDS DB snapshot or DB cluster snapshot; the id is its ARN. attributes: identifier,
cluster (bool: a DB cluster snapshot), snapshotType (manual), status, engine, allocatedStorageGb,
createTime, sourceId (DB instance or DB cluster identifier), sourceExists (bool)."""
NAT_GATEWAY = "ec2.natgateway"
"""attributes: state, vpcId, subnetId, connectivityType (public|private)."""


class Resource(BaseModel):
    """A resource as inventoried; identity is (provider, accountId, region, id)."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    account_id: str
    region: str
    kind: str = Field(description="Resource kind, e.g. 'ec2.instance' (see the constants above).")
    id: str
    name: UntrustedText | None = None
    tags: dict[UntrustedText, UntrustedText] = Field(default_factory=dict)
    created_at: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _printable_attributes(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Text attributes come from the cloud (descriptions, names): no control characters."""
        return {k: printable(v) if isinstance(v, str) else v for k, v in value.items()}

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attributes.get(key, default)
