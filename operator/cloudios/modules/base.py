"""The module contract: a module declares what it needs and turns a snapshot into findings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from cloudios.domain import Category, Finding, Metric, Provider, Snapshot


class Settings(BaseModel):
    """Base of every module's settings model: unknown keys are refused (typos are errors).

    Field descriptions feed the ScanPolicy CRD schema and docs/modules.md.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True)
class MetricNeed:
    """One metric of one resource kind that a module reads."""

    kind: str
    metric: Metric


@dataclass(frozen=True)
class ModuleSpec:
    """What a module is and what it needs; no behaviour."""

    name: str
    provider: Provider
    category: Category
    summary: str
    resource_kinds: tuple[str, ...]
    metrics: tuple[MetricNeed, ...] = ()
    min_days: int = 0
    permissions: tuple[str, ...] = ()
    settings: type[Settings] = Settings


Evaluate = Callable[[Snapshot, Settings], Sequence[Finding]]


@dataclass(frozen=True)
class Module:
    """A registered module: its spec and its pure evaluate function."""

    spec: ModuleSpec
    evaluate: Evaluate = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def run(self, snapshot: Snapshot, settings: Settings | None = None) -> list[Finding]:
        """Evaluate with the given settings, or the module's defaults."""
        return list(self.evaluate(snapshot, settings or self.spec.settings()))
