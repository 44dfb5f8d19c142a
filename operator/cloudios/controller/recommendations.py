"""Recommendation handler: status.state follows the user's spec.decision (level-based, every event)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.controller import handling, recommendation_objects
from cloudios.controller.notices import Notice, reference
from cloudios.controller.recommendation_objects import KIND
from cloudios.controller.services import Services

PLURAL = "recommendations"

log = logging.getLogger(__name__)


async def reconcile(services: Services, body: Mapping[str, Any]) -> list[Notice]:
    """Set status.state from the decision when it differs; Resolved and later states stay."""
    status = body.get("status") or {}
    resolved = status.get("state") == "Resolved"
    wanted = recommendation_objects.state_for(body, resolved=resolved)
    if status.get("state") == wanted:
        return []
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    async with services.locks.hold(KIND, namespace, name):
        patch = {"state": wanted, "observedGeneration": meta.get("generation")}
        if not await asyncio.to_thread(services.kube.patch_status, KIND, namespace, name, patch):
            return []
    decision = (body.get("spec") or {}).get("decision") or {}
    if wanted in ("Approved", "Dismissed"):
        who = decision.get("decidedBy") or "a user"
        return [Notice(reference(body), "Normal", f"Recommendation{wanted}", f"{wanted.lower()} by {who}")]
    return []


def register(registry: kopf.OperatorRegistry, services: Services) -> None:
    """Bind the Recommendation handler to ``registry``.

    A raw event handler, not a change handler: nothing is stored on the objects (no diff-base
    annotation, no progress), and the initial listing after a restart re-checks every object.
    """

    @kopf.on.event(GROUP, VERSION, PLURAL, id="follow-decision", registry=registry)
    async def follow_decision(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
        if event.get("type") == "DELETED" or not body.get("metadata", {}).get("name"):
            return
        await handling.tick(reconcile(services, body), what="Recommendation state")
