"""CloudAccount handlers: one reconcile on create/update/resume, a health-check timer, a finalizer."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.controller import account_health, handling, policy_runs
from cloudios.controller.recommendation_objects import KIND as RECOMMENDATION
from cloudios.controller.recommendation_objects import LABEL_ACCOUNT, label_value
from cloudios.controller.services import Services

PLURAL = "cloudaccounts"
CLEANUP_ATTEMPTS = 3
CLEANUP_TIMEOUT_SECONDS = 20.0

log = logging.getLogger(__name__)


async def cleanup(services: Services, namespace: str, name: str) -> None:
    """Mark the account deleted in the store and delete its Recommendations; bounded, never stuck.

    After the last failed attempt the finalizer is released anyway: a CloudAccount that cannot be
    deleted is worse than a leftover Recommendation (which a later run or a user can remove).
    """
    for attempt in range(1, CLEANUP_ATTEMPTS + 1):
        try:
            await asyncio.wait_for(_cleanup_once(services, namespace, name), CLEANUP_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - bounded retries, then let go (see docstring)
            log.warning(
                "cleanup of CloudAccount %s/%s, attempt %d of %d: %s",
                namespace,
                name,
                attempt,
                CLEANUP_ATTEMPTS,
                handling.describe(exc),
            )
            await asyncio.sleep(min(2**attempt, 10))
        else:
            services.locks.forget(account_health.KIND, namespace, name)
            services.metrics.forget_account(namespace, name)
            return
    log.error("cleanup of CloudAccount %s/%s gave up; its finalizer is released anyway", namespace, name)
    services.metrics.forget_account(namespace, name)


async def _cleanup_once(services: Services, namespace: str, name: str) -> None:
    now = services.clock()
    await asyncio.to_thread(services.store.mark_account_deleted, tenant=namespace, name=name, now=now)
    deleted = await asyncio.to_thread(
        services.kube.delete_labelled, RECOMMENDATION, namespace, f"{LABEL_ACCOUNT}={label_value(name)}"
    )
    await policy_runs.refresh_savings(services, namespace)  # its findings no longer count
    log.info(
        "CloudAccount %s/%s deleted: data marked for purge, %d recommendation(s) removed",
        namespace,
        name,
        deleted,
    )


def register(registry: kopf.OperatorRegistry, services: Services) -> None:
    """Bind the CloudAccount handlers to ``registry``, closing over ``services``."""
    interval = services.settings.health_interval_seconds

    def first_check_delay(**_: Any) -> float:
        # Spread the timers of accounts created together (reconcile already checked them once).
        return interval * (1 + random.random() / 10)  # noqa: S311 - jitter, not cryptography

    @kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec", registry=registry)
    async def reconcile_account(body: kopf.Body, **_: Any) -> None:
        await handling.converge(account_health.reconcile(services, body), what="CloudAccount reconcile")

    @kopf.timer(
        GROUP, VERSION, PLURAL, id="health-check", interval=interval, initial_delay=first_check_delay,
        registry=registry,
    )  # fmt: skip
    async def health_check(body: kopf.Body, **_: Any) -> None:
        await handling.tick(account_health.reconcile(services, body), what="CloudAccount health check")

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", registry=registry)
    async def delete_account(body: kopf.Body, **_: Any) -> None:
        meta = body.get("metadata", {})
        await cleanup(services, str(meta.get("namespace")), str(meta.get("name")))
