"""Status writing: merge observations into an object's conditions and patch its status subresource."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudios.api.names import CLOUD_ACCOUNT
from cloudios.sinks import conditions
from cloudios.sinks.conditions import Observation
from cloudios.sinks.kube import Kube
from cloudios.sinks.notices import Notice, from_transitions

SCANNED = "Scanned"


@dataclass
class StatusWriter:
    """Writes conditions and status fields through the Kubernetes API; callers hold the object's lock."""

    kube: Kube
    clock: Callable[[], datetime]

    async def write(
        self,
        body: Mapping[str, Any],
        observations: list[Observation],
        extra: Mapping[str, Any] | None = None,
        *,
        kind: str = CLOUD_ACCOUNT,
    ) -> list[Notice]:
        """Merge observations into the latest stored conditions and patch the status; Events to post."""
        meta = body.get("metadata", {})
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        latest = await asyncio.to_thread(self.kube.get, kind, namespace, name)
        if latest is None:
            return []
        existing = conditions.parse((latest.get("status") or {}).get("conditions"))
        if kind == CLOUD_ACCOUNT and conditions.find(existing, SCANNED) is None:
            observations = [
                *observations,
                Observation(
                    SCANNED, "Unknown", "NotScannedYet", "no ScanPolicy has scanned this account yet."
                ),
            ]
        generation = latest.get("metadata", {}).get("generation")
        merged, transitions = conditions.merge(
            existing, observations, generation=generation, now=self.clock()
        )
        status = {**(extra or {}), "conditions": conditions.dump(merged), "observedGeneration": generation}
        current = latest.get("status") or {}
        if any(current.get(key) != value for key, value in status.items()):  # timers mostly change nothing
            await asyncio.to_thread(self.kube.patch_status, kind, namespace, name, status)
        return from_transitions(latest, transitions)
