"""Estate files: a documented YAML description of one Azure subscription the emulator serves.

The top-level shape is shared by every provider's emulator (docs/estates.md)::

    provider: azure
    account: <subscription id>
    lookbackDays: 30
    resources:
      - {kind: azure.vm, id: ..., name: ..., region: ..., attributes: {...}, labels: {...},
         metrics: {percentage_cpu: {pattern: idle, level: 0.01, peak: 0.05}}, truth: idle}

``attributes`` use the names the Azure provider fills (cloudios.domain.azure); the emulator turns
them into the ARM objects Resource Graph returns. ``metrics`` maps an Azure metric (snake_case of
its name: percentage_cpu, network_in_total, network_out_total, available_memory_bytes) to a
generator or an explicit daily series; ``series.py`` turns both into daily aggregates. ``truth``
is for accuracy tests and is never served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from cloudios.domain.azure import KINDS

TRUTHS = ("idle", "rightsize", "orphaned", "none")
METRICS = ("percentage_cpu", "network_in_total", "network_out_total", "available_memory_bytes")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class DayValues(_Model):
    """One day given explicitly (Azure Monitor's daily aggregates)."""

    average: float
    maximum: float | None = None
    minimum: float | None = None
    total: float | None = None
    count: int | None = None


class MetricSpec(_Model):
    """A generator (pattern, level, peak) or an explicit daily series (``daily``, oldest first).

    Levels: percentage_cpu as a fraction of 100% (0.05 = 5%); network_*_total in bytes per day;
    available_memory_bytes as the fraction of the VM's memory in use (0.4 = 40% used).
    """

    pattern: Literal["idle", "steady", "batch", "bursty"] | None = None
    level: float | None = Field(default=None, ge=0)
    peak: float | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0, le=93, description="Days with data, ending yesterday.")
    daily: list[float | DayValues] | None = None


class EstateResource(_Model):
    """One resource of the estate."""

    kind: str
    id: str
    name: str | None = None
    region: str
    attributes: dict[str, object] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    truth: Literal["idle", "rightsize", "orphaned", "none"] = "none"


class Estate(_Model):
    """One subscription's resources and daily metric series."""

    provider: Literal["azure"]
    account: str = Field(pattern=r"^[0-9a-fA-F-]{36}$", description="The subscription ID.")
    lookback_days: int = Field(default=30, ge=1, le=93)
    resources: list[EstateResource] = Field(default_factory=list)

    def region_of(self, resource_id: str) -> str | None:
        found = self.by_id().get(resource_id.lower())
        return None if found is None else found.region

    def by_id(self) -> dict[str, EstateResource]:
        return {r.id.lower(): r for r in self.resources}


class EstateError(ValueError):
    """An estate file that cannot be used; the message names the file and the field."""


def load(path: Path | str) -> Estate:
    """Read and validate an estate file."""
    where = Path(path)
    try:
        raw = yaml.safe_load(where.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EstateError(f"{where}: cannot read an estate file ({exc})") from None
    return parse(raw, str(where))


def parse(raw: object, where: str = "estate") -> Estate:
    """Validate an estate already parsed from YAML (or built in code)."""
    try:
        estate = Estate.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise EstateError(f"{where}: {field}: {first['msg']}") from None
    for i, resource in enumerate(estate.resources):
        if resource.kind not in KINDS:
            raise EstateError(
                f"{where}: resources.{i}.kind: '{resource.kind}' is not one of {', '.join(KINDS)}"
            )
        prefix = f"/subscriptions/{estate.account}/".lower()
        if not resource.id.lower().startswith(prefix):
            raise EstateError(f"{where}: resources.{i}.id: must start with {prefix}")
        unknown = sorted(set(resource.metrics) - set(METRICS))
        if unknown:
            raise EstateError(
                f"{where}: resources.{i}.metrics: unknown {unknown}; known: {', '.join(METRICS)}"
            )
    return estate


def dump(estate: Estate) -> str:
    """The YAML text of an estate (for generated estates a user may edit)."""
    data = estate.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=False)
    return yaml.safe_dump(data, sort_keys=False)
