"""The documented estate file (docs/estates.md): resources, attributes, daily metric series, truth.

```yaml
provider: gcp
account: my-project-123
lookbackDays: 30
resources:
  - kind: gce.instance
    id: "1001"
    name: web-1
    region: europe-west1
    attributes: {zone: europe-west1-b, machineType: e2-standard-8, status: RUNNING}
    metrics:
      cpu_utilization: {pattern: steady, level: 0.12, peak: 0.25}
      network_in_bytes: [1.0e9, 1.2e9]     # or explicit daily values, oldest first
    truth: rightsize
```
Metric series are daily: a generator (``pattern``, ``level``, ``peak``, ``days``) or a list of
daily values ending yesterday (UTC). CPU is a fraction of the machine (0-1) as Cloud Monitoring
reports it; byte counters are bytes per day; connections a count. ``truth`` is for accuracy tests
only: the emulator never serves it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cloudios.domain.gcp import GCE_ADDRESS, GCE_DISK, GCE_IMAGE, GCE_INSTANCE, GCE_SNAPSHOT, SQL_INSTANCE

Pattern = Literal["idle", "steady", "batch", "bursty"]
Truth = Literal["idle", "rightsize", "orphaned", "none"]
KINDS = (GCE_INSTANCE, GCE_DISK, GCE_ADDRESS, GCE_SNAPSHOT, GCE_IMAGE, SQL_INSTANCE)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Generator(_Model):
    """A daily series made up from a pattern: ``level`` is the typical daily mean, ``peak`` the
    highest value a day reaches (batch: every day, bursty: some days), ``days`` how many days
    (ending yesterday) have data (default: the estate's lookbackDays)."""

    pattern: Pattern
    level: float = Field(ge=0)
    peak: float | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0, le=400)


class EstateResource(_Model):
    kind: Literal["gce.instance", "gce.disk", "gce.address", "gce.snapshot", "gce.image", "cloudsql.instance"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    region: str
    attributes: dict[str, object] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, Generator | list[float]] = Field(default_factory=dict)
    truth: Truth = "none"


class Estate(_Model):
    provider: Literal["gcp"]
    account: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="The project id.")
    lookback_days: int = Field(default=30, ge=1, le=400)
    resources: list[EstateResource] = Field(default_factory=list)

    def of_kind(self, kind: str) -> list[EstateResource]:
        return [r for r in self.resources if r.kind == kind]


class EstateError(ValueError):
    """An estate file that cannot be used; the message names the file and the field."""


def load(path: Path | str) -> Estate:
    """An estate from a YAML file; EstateError naming the file and field on bad input."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EstateError(f"{path}: {str(exc).splitlines()[0]}") from None
    try:
        return Estate.model_validate(data)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise EstateError(f"{path}: {' '.join(first[1:3]) if len(first) > 2 else first[0]}") from None  # noqa: PLR2004


def dump(estate: Estate) -> str:
    return yaml.safe_dump(
        estate.model_dump(mode="json", by_alias=True, exclude_defaults=True), sort_keys=False
    )


def daily(
    series: Generator | list[float], lookback_days: int, rng: random.Random
) -> list[tuple[float, float]]:
    """(mean, max) per day, oldest first, ending yesterday."""
    if isinstance(series, list):
        return [(v, v) for v in series]
    days = lookback_days if series.days is None else series.days
    level, out = series.level, []
    for _ in range(days):
        mean = level * rng.uniform(0.8, 1.2)
        if series.pattern == "idle":
            top = mean * rng.uniform(1.5, 3.0)
        elif series.pattern == "steady":
            top = (
                series.peak * rng.uniform(0.85, 1.0)
                if series.peak is not None
                else mean * rng.uniform(1.2, 1.6)
            )
        elif series.pattern == "batch":
            top = series.peak if series.peak is not None else 0.9
        else:  # bursty: a peak on about a third of the days
            top = (series.peak or 0.95) if rng.random() < 0.35 else mean * rng.uniform(1.2, 1.8)  # noqa: PLR2004
        out.append((mean, max(mean, top)))
    return out
