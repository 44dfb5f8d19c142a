"""The module contract: a module declares what it needs and turns a snapshot into findings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import Any, Generic, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from cloudios.domain import Category, Finding, Metric, Provider, Snapshot


class Settings(BaseModel):
    """Base of every module's settings model: unknown keys are refused (typos are errors), and values
    are not coerced (a YAML ``true`` is not the number 1, nor "5" the number 5; an int is a valid float).

    Field descriptions feed the ScanPolicy CRD schema and docs/modules.md.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """No lax coercion of settings from YAML: ``true`` is not 1 and ``"5"`` is not 5."""
        kinds = _scalar_kinds(cls.model_fields[info.field_name or ""].annotation)
        if kinds & {int, float} and isinstance(value, bool | str):
            raise PydanticCustomError("number_type", "expected a number, got {value}", {"value": repr(value)})
        if kinds == {bool} and not isinstance(value, bool):
            raise PydanticCustomError(
                "bool_type", "expected true or false, got {value}", {"value": repr(value)}
            )
        return value


def _scalar_kinds(annotation: Any) -> set[Any]:
    """int, float, bool found in an annotation (also inside ``X | None``)."""
    options = get_args(annotation) if isinstance(annotation, UnionType) else (annotation,)
    return {kind for kind in options if kind in (int, float, bool)}


SettingsT = TypeVar("SettingsT", bound=Settings)


@dataclass(frozen=True)
class MetricNeed:
    """One metric of one resource kind that a module reads."""

    kind: str
    metric: Metric


@dataclass(frozen=True, kw_only=True)
class ModuleSpec(Generic[SettingsT]):
    """What a module is, what it needs and the model of its settings; no behaviour."""

    name: str
    provider: Provider
    category: Category
    summary: str
    resource_kinds: tuple[str, ...]
    metrics: tuple[MetricNeed, ...] = ()
    min_days: int = 0
    permissions: tuple[str, ...] = ()
    yields_to: tuple[str, ...] = ()
    """Modules whose finding on the same resource wins over this module's, whatever the savings,
    when both propose the same kind of action (both remove, or both change, the resource): e.g.
    a Graviton move yields to rightsizing the instance. Dedupe applies it (pipeline/dedupe.py)."""
    settings: type[SettingsT]


Evaluate = Callable[[Snapshot, SettingsT], Sequence[Finding]]
"""A module's pure function: a snapshot and the module's own settings model in, findings out."""


@dataclass(frozen=True)
class Module(Generic[SettingsT]):
    """A registered module: its spec and its pure evaluate function, typed by its settings model.

    The registry holds modules of different settings types as ``Module[Any]``; ``run`` is the one
    place where settings of unknown type meet the module, and it checks them.
    """

    spec: ModuleSpec[SettingsT]
    evaluate: Evaluate[SettingsT] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def run(self, snapshot: Snapshot, settings: Settings | None = None) -> list[Finding]:
        """Evaluate with the given settings (an instance of ``spec.settings``), or its defaults."""
        return list(self.evaluate(snapshot, self.settings_of(settings)))

    def settings_of(self, settings: Settings | None) -> SettingsT:
        """``settings`` as this module's own model (defaults when None); a TypeError for another model."""
        if settings is None:
            return self.spec.settings()
        if not isinstance(settings, self.spec.settings):
            raise TypeError(
                f"module {self.name} takes {self.spec.settings.__name__}, not {type(settings).__name__}"
            )
        return settings
