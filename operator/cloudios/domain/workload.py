"""What the agent reports about one container of one workload, as the store hands it to providers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkloadUsage:
    """One agent-reported container's usage summary."""

    cluster: str
    namespace: str
    workload: str
    container: str
    summary: Mapping[str, Any]
