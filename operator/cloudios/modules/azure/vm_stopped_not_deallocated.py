"""azure.vm.stopped_not_deallocated: VMs stopped from inside the OS, still billed for compute.

A VM in power state ``stopped`` (not ``deallocated``) keeps its host reserved and is billed the
full compute price. Deallocating keeps the VM and its disks but ends the compute charge. High
confidence: the power state is the evidence; no metrics are needed.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot
from cloudios.domain.azure import VM
from cloudios.modules import shared
from cloudios.modules.azure import _common as common
from cloudios.modules.base import Module, ModuleSpec


class StoppedSettings(common.AzureSettings):
    """azure.vm.stopped_not_deallocated has no thresholds."""


SPEC = ModuleSpec(
    name="azure.vm.stopped_not_deallocated",
    provider=Provider.AZURE,
    category=Category.IDLE,
    summary="VMs in power state 'stopped' but not deallocated: compute is still billed; deallocate "
    "them. Savings are the VM's compute price.",
    resource_kinds=(VM,),
    permissions=(common.GRAPH_READ, common.VM_READ),
    settings=StoppedSettings,
)


def evaluate(snapshot: Snapshot, settings: StoppedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for vm in snapshot.of_kind(VM):
        size = str(vm.attr("vmSize") or "")
        if vm.attr("powerState") != "stopped" or not size:
            continue
        findings.append(
            shared.build_finding(
                SPEC,
                vm,
                action=Action.STOP,
                title=f"Deallocate stopped Azure VM {shared.label(vm)} ({size}): it is still billed",
                confidence=Confidence.HIGH,
                current={"vmSize": size, "powerState": "stopped"},
                proposed={"powerState": "deallocated"},
                evidence=shared.evidence(
                    settings,
                    None,
                    note="Stopped from inside the OS, the VM keeps its allocation and its compute "
                    "charge; `az vm deallocate` ends it.",
                ),
                current_usage=[common.vm_usage(vm, size)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)
