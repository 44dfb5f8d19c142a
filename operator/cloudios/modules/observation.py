"""What a later scan saw of a proposal's resource (modules.outcomes documents each outcome). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    APPLIED = "Applied"
    CHANGED_DIFFERENTLY = "ChangedDifferently"
    UNCHANGED = "Unchanged"
    RESOURCE_GONE = "ResourceGone"


@dataclass(frozen=True)
class Observation:
    """What a scan saw of a proposal's resource: the outcome and the observed values."""

    outcome: Outcome
    observed: dict[str, Any]
    detail: str
