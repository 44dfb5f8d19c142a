"""ScanPolicy handlers: validate on create/update/resume, a scheduler timer, cleanup on deletion."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.api.names import LABEL_POLICY, PLURALS, RECOMMENDATION, SCAN_POLICY, label_value
from cloudios.controller import handling
from cloudios.services import policy_runs, webhook_delivery
from cloudios.services.context import Services

PLURAL = PLURALS[SCAN_POLICY]
CLEANUP_TIMEOUT_SECONDS = 30.0

log = logging.getLogger(__name__)


def register(registry: kopf.OperatorRegistry, services: Services) -> None:
    """Bind the ScanPolicy handlers to ``registry``, closing over ``services``."""

    @kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec", registry=registry)
    async def reconcile_policy(body: kopf.Body, **_: Any) -> None:
        await handling.converge(
            policy_runs.reconcile(services.policies, body),
            what="ScanPolicy reconcile",
            metrics=services.metrics.ops,
        )

    every = services.policies.settings.scheduler_interval_seconds

    @kopf.timer(GROUP, VERSION, PLURAL, id="scheduler", interval=every, registry=registry)
    async def scheduler(body: kopf.Body, **_: Any) -> None:
        await handling.tick(
            policy_runs.tick(services.policies, body),
            what="ScanPolicy scheduler",
            metrics=services.metrics.ops,
        )

    notifier = services.policies.notifier
    deliver_every = notifier.settings.interval_seconds if notifier is not None else 5.0

    @kopf.timer(GROUP, VERSION, PLURAL, id="webhooks", interval=deliver_every, registry=registry)
    async def webhooks(body: kopf.Body, **_: Any) -> None:
        # The outbox worker of this policy: due deliveries, retries, dead letters on status.
        await handling.tick(
            webhook_delivery.deliver(services.policies, body),
            what="ScanPolicy webhooks",
            metrics=services.metrics.ops,
        )

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", registry=registry)
    async def delete_policy(body: kopf.Body, **_: Any) -> None:
        # ownerReferences let the garbage collector do this too; deleting here also works where no
        # controller-manager runs, and never blocks the deletion for long.
        meta = body.get("metadata", {})
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        try:
            deleted = await asyncio.wait_for(
                asyncio.to_thread(
                    services.kube.delete_labelled,
                    RECOMMENDATION,
                    namespace,
                    f"{LABEL_POLICY}={label_value(name)}",
                ),
                CLEANUP_TIMEOUT_SECONDS,
            )
        except Exception as exc:  # noqa: BLE001 - the garbage collector remains as a fallback
            log.warning("ScanPolicy %s/%s deleted; removing its recommendations failed: %s", namespace, name,
                        handling.describe(exc))  # fmt: skip
        else:
            log.info("ScanPolicy %s/%s deleted with %d recommendation(s)", namespace, name, deleted)
        services.locks.forget(SCAN_POLICY, namespace, name)
        # A deleted policy's staleness gauge would otherwise fire CloudiosScanStale two days later.
        services.metrics.forget_policy(namespace, name)
