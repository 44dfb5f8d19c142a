"""Which modules a policy runs for an account, with validated settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cloudios.api import ScanPolicy, ScanPolicySpec
from cloudios.domain import Provider
from cloudios.modules import registry
from cloudios.modules.base import Module, Settings


class PolicyError(ValueError):
    """A policy that cannot run as written; ``field`` is the path inside the ScanPolicy."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Selected:
    """A module with the settings it runs with."""

    module: Module[Any]
    settings: Settings


def selects(policy: ScanPolicy, namespace: str, labels: Mapping[str, str] | None) -> bool:
    """Whether ``policy`` scans a CloudAccount in ``namespace`` with ``labels``: the one rule the CLI
    and the operator share (same namespace, the account selector matches; empty selects all)."""
    return namespace == policy.metadata.namespace and policy.spec.account_selector.matches(dict(labels or {}))


def select(policy: ScanPolicySpec, provider: Provider) -> list[Selected]:
    """Modules of ``provider`` the policy enables; an empty list in the policy means all, with defaults.

    Modules of other providers are valid names but do not apply to this account; unknown names and
    bad settings raise PolicyError naming the field.
    """
    if not policy.modules:
        return [Selected(m, m.spec.settings()) for m in registry.for_provider(provider)]
    chosen: list[Selected] = []
    for index, selection in enumerate(policy.modules):
        field = f"spec.modules[{index}]"
        try:
            module = registry.get(selection.name)
        except KeyError:
            known = ", ".join(m.name for m in registry.all_modules())
            raise PolicyError(
                f"{field}.name", f"unknown module '{selection.name}'; known modules: {known}"
            ) from None
        try:
            settings = module.spec.settings.model_validate(selection.settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise PolicyError(
                f"{field}.settings{'.' + where if where else ''}",
                f"{first['msg']} (see docs/modules.md#{selection.name.replace('.', '')})",
            ) from None
        if selection.enabled and module.spec.provider == provider:
            chosen.append(Selected(module, settings))
    return chosen
