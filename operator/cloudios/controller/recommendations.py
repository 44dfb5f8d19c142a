"""Recommendation handler: status follows the store and spec.decision; objects the operator did not
publish are deleted (level-based, on every event)."""

from __future__ import annotations

from typing import Any

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.api.names import PLURALS, RECOMMENDATION
from cloudios.controller import handling
from cloudios.services import recommendations
from cloudios.services.context import Services

EVENT_HANDLER = "follow-decision"


def register(registry: kopf.OperatorRegistry, services: Services) -> None:
    """Bind the Recommendation handler to ``registry``.

    A raw event handler, not a change handler: nothing is stored on the objects (no diff-base
    annotation, no progress), and the initial listing after a restart re-checks every object.
    """

    @kopf.on.event(GROUP, VERSION, PLURALS[RECOMMENDATION], id=EVENT_HANDLER, registry=registry)
    async def follow_decision(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
        if event.get("type") == "DELETED" or not body.get("metadata", {}).get("name"):
            return
        work = recommendations.reconcile(
            services.kube, services.store, services.locks, body, services.notifier
        )
        await handling.tick(work, what="Recommendation state", metrics=services.metrics.ops)
