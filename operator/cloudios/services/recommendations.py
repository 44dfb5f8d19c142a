"""Recommendation state: status.state follows the user's spec.decision (level-based, every event)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from cloudios.api.names import RECOMMENDATION
from cloudios.api.objects import name_of
from cloudios.services.context import ObjectLocks
from cloudios.sinks import recommendation_objects
from cloudios.sinks.kube import Kube
from cloudios.sinks.notices import Notice, reference


async def follow_decision(kube: Kube, locks: ObjectLocks, body: Mapping[str, Any]) -> list[Notice]:
    """Set status.state from the decision when it differs; Resolved and later states stay."""
    status = body.get("status") or {}
    resolved = status.get("state") == "Resolved"
    wanted = recommendation_objects.state_for(body, resolved=resolved)
    if status.get("state") == wanted:
        return []
    namespace, name = name_of(body)
    async with locks.hold(RECOMMENDATION, namespace, name):
        patch = {"state": wanted, "observedGeneration": body.get("metadata", {}).get("generation")}
        if not await asyncio.to_thread(kube.patch_status, RECOMMENDATION, namespace, name, patch):
            return []
    decision = (body.get("spec") or {}).get("decision") or {}
    if wanted in ("Approved", "Dismissed"):
        who = decision.get("decidedBy") or "a user"
        return [Notice(reference(body), "Normal", f"Recommendation{wanted}", f"{wanted.lower()} by {who}")]
    return []
