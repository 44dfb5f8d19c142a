"""CloudAccount handlers: one reconcile on create/update/resume, a health-check timer, a finalizer."""

from __future__ import annotations

import logging
import random
from typing import Any

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.api.names import CLOUD_ACCOUNT, PLURALS
from cloudios.controller import handling
from cloudios.services import accounts
from cloudios.services.context import Services

PLURAL = PLURALS[CLOUD_ACCOUNT]

log = logging.getLogger(__name__)


def register(registry: kopf.OperatorRegistry, services: Services) -> None:
    """Bind the CloudAccount handlers to ``registry``, closing over ``services``."""
    interval = services.accounts.settings.interval_seconds

    def first_check_delay(**_: Any) -> float:
        # Spread the timers of accounts created together (reconcile already checked them once).
        return interval * (1 + random.random() / 10)  # noqa: S311 - jitter, not cryptography

    @kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec", registry=registry)
    async def reconcile_account(body: kopf.Body, **_: Any) -> None:
        await handling.converge(accounts.reconcile(services.accounts, body), what="CloudAccount reconcile")

    @kopf.timer(
        GROUP, VERSION, PLURAL, id="health-check", interval=interval, initial_delay=first_check_delay,
        registry=registry,
    )  # fmt: skip
    async def health_check(body: kopf.Body, **_: Any) -> None:
        await handling.tick(accounts.reconcile(services.accounts, body), what="CloudAccount health check")

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", registry=registry)
    async def delete_account(body: kopf.Body, **_: Any) -> None:
        meta = body.get("metadata", {})
        await accounts.cleanup(services.accounts, str(meta.get("namespace")), str(meta.get("name")))
