"""The explicit registry of optimization modules: one literal tuple, no import side effects."""

from __future__ import annotations

from typing import Any

from cloudios.domain import Provider
from cloudios.modules.aws import (
    ebs_gp2_to_gp3,
    ebs_io_to_gp3,
    ebs_low_activity,
    ebs_snapshot_old,
    ebs_snapshot_orphaned,
    ebs_stopped_instance,
    ebs_unattached,
    ec2_graviton,
    ec2_idle,
    ec2_previous_generation,
    ec2_rightsize,
    eip_unassociated,
    elb_idle,
    nat_idle,
    rds_idle,
    rds_previous_generation,
    rds_rightsize,
    rds_snapshot_old,
)
from cloudios.modules.azure import disk_unattached as azure_disk_unattached
from cloudios.modules.azure import (
    lb_no_backends,
    publicip_unassociated,
    vm_idle,
    vm_rightsize,
    vm_stopped_not_deallocated,
)
from cloudios.modules.azure import snapshot_old as azure_snapshot_old
from cloudios.modules.base import Module
from cloudios.modules.gcp import (
    address_unused,
    compute_idle,
    compute_rightsize,
    sql_idle,
)
from cloudios.modules.gcp import disk_unattached as gcp_disk_unattached
from cloudios.modules.gcp import snapshot_old as gcp_snapshot_old
from cloudios.modules.kubernetes import (
    node_underutilized,
    pvc_unused,
    service_lb_idle,
    workload_abandoned,
    workload_rightsize,
)

# Each module is typed by its own settings model; the registry erases that (Module.run checks it).
MODULES: tuple[Module[Any], ...] = (
    ec2_idle.MODULE,
    ec2_rightsize.MODULE,
    ec2_previous_generation.MODULE,
    ec2_graviton.MODULE,
    ebs_unattached.MODULE,
    ebs_stopped_instance.MODULE,
    ebs_low_activity.MODULE,
    ebs_gp2_to_gp3.MODULE,
    ebs_io_to_gp3.MODULE,
    ebs_snapshot_old.MODULE,
    ebs_snapshot_orphaned.MODULE,
    eip_unassociated.MODULE,
    elb_idle.MODULE,
    rds_idle.MODULE,
    rds_rightsize.MODULE,
    rds_previous_generation.MODULE,
    rds_snapshot_old.MODULE,
    nat_idle.MODULE,
    compute_idle.MODULE,
    compute_rightsize.MODULE,
    gcp_disk_unattached.MODULE,
    address_unused.MODULE,
    gcp_snapshot_old.MODULE,
    sql_idle.MODULE,
    vm_idle.MODULE,
    vm_rightsize.MODULE,
    vm_stopped_not_deallocated.MODULE,
    azure_disk_unattached.MODULE,
    publicip_unassociated.MODULE,
    azure_snapshot_old.MODULE,
    lb_no_backends.MODULE,
    workload_rightsize.MODULE,
    workload_abandoned.MODULE,
    pvc_unused.MODULE,
    service_lb_idle.MODULE,
    node_underutilized.MODULE,
)
_BY_NAME: dict[str, Module[Any]] = {m.name: m for m in MODULES}


class UnknownModuleError(KeyError):
    """A module name that the registry does not know; the message lists the valid names."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.message = f"unknown module '{name}'; valid modules: {', '.join(sorted(_BY_NAME))}"

    def __str__(self) -> str:
        return self.message


def all_modules() -> tuple[Module[Any], ...]:
    """Every registered module, in registry order."""
    return MODULES


def get(name: str) -> Module[Any]:
    """The module called ``name``; raises UnknownModuleError listing the valid names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownModuleError(name) from None


def for_provider(provider: Provider | str) -> tuple[Module[Any], ...]:
    """The modules of one provider, in registry order."""
    return tuple(m for m in MODULES if m.spec.provider == Provider(provider))
