"""Which modules a policy runs for an account, with validated settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cloudios.api import ScanPolicy, ScanPolicySpec
from cloudios.domain import Provider
from cloudios.modules import registry
from cloudios.modules.base import Module, Settings


class PolicyError(ValueError):
    """A policy that cannot run as written; ``field`` is the path inside the ScanPolicy.

    ``problems`` holds every (field, message) found; ``message`` is the first one's message
    followed by the others with their paths, so ``f"{field}: {message}"`` reports them all.
    """

    def __init__(self, field: str, message: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        self.problems = ((field, message), *more)
        self.field = field
        self.message = "; ".join([message, *(f"{where}: {what}" for where, what in more)])
        super().__init__(f"{field}: {self.message}")


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
    bad settings raise one PolicyError naming every bad field.
    """
    if not policy.modules:
        return [Selected(m, m.spec.settings()) for m in registry.for_provider(provider)]
    chosen: list[Selected] = []
    problems: list[tuple[str, str]] = []
    for index, selection in enumerate(policy.modules):
        field = f"spec.modules[{index}]"
        try:
            module = registry.get(selection.name)
        except KeyError:
            known = ", ".join(m.name for m in registry.all_modules())
            problems.append((f"{field}.name", f"unknown module '{selection.name}'; known modules: {known}"))
            continue
        try:
            settings = module.spec.settings.model_validate(selection.settings)
        except ValidationError as exc:
            problems.extend(_settings_problems(exc, field, selection.name))
            continue
        if selection.enabled and module.spec.provider == provider:
            chosen.append(Selected(module, settings))
    if problems:
        (field, message), *more = problems
        raise PolicyError(field, message, more=more)
    return chosen


def _settings_problems(exc: ValidationError, field: str, module: str) -> list[tuple[str, str]]:
    """Every error of one module's settings, each with its path inside the ScanPolicy."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        problems.append(
            (
                f"{field}.settings{'.' + where if where else ''}",
                f"{error['msg']} (see docs/modules.md#{module.replace('.', '')})",
            )
        )
    return problems
