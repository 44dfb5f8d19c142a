"""CloudAccount handlers: one reconcile on create/update/resume, a health-check daemon, a finalizer."""

from __future__ import annotations

import logging
import random
from typing import Any

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.api.names import CLOUD_ACCOUNT, PLURALS
from cloudios.controller import handling
from cloudios.services import account_identity, accounts, reprobe
from cloudios.services.context import Services

PLURAL = PLURALS[CLOUD_ACCOUNT]
INDEX = "cloud_account_claims"  # kopf passes the index to handlers under this name

log = logging.getLogger(__name__)


def _claims_in(index: kopf.Index[str, Any], body: kopf.Body) -> list[account_identity.Claim]:
    return list(index.get(str(body.get("metadata", {}).get("namespace")), []))


def _kubernetes(spec: kopf.Spec, **_: Any) -> bool:
    return spec.get("provider") == "kubernetes"


def register(registry: kopf.OperatorRegistry, services: Services) -> None:
    """Bind the CloudAccount handlers to ``registry``, closing over ``services``."""
    interval = services.accounts.settings.interval_seconds

    def first_check_delay(**_: Any) -> float:
        # Spread the checks of accounts created together (reconcile already checked them once).
        return interval * (1 + random.random() / 10)  # noqa: S311 - jitter, not cryptography

    @kopf.index(GROUP, VERSION, PLURAL, id=INDEX, registry=registry)
    def claims(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, account_identity.Claim]:
        # Which cloud account each object claims, by namespace, kept from the watch (no listing
        # per check: a namespace of 200 accounts would otherwise list 200 objects 200 times).
        return {str(namespace): account_identity.claim_of(body)}

    @kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile", registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec", registry=registry)
    async def reconcile_account(body: kopf.Body, **kwargs: Any) -> None:
        others = _claims_in(kwargs[INDEX], body)
        await handling.converge(
            accounts.reconcile(services.accounts, body, others),
            what="CloudAccount reconcile",
            metrics=services.metrics.ops,
        )

    @kopf.daemon(GROUP, VERSION, PLURAL, id="health-check", registry=registry)
    async def health_check(body: kopf.Body, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
        index = kwargs[INDEX]  # kopf keeps it current; read it anew for each check

        async def check() -> None:
            others = _claims_in(index, body)
            await handling.tick(
                accounts.reconcile(services.accounts, body, others),
                what="CloudAccount health check",
                metrics=services.metrics.ops,
            )

        await reprobe.check_periodically(
            services.accounts, body, stopped, first_delay=first_check_delay(), check=check
        )

    # Kubernetes accounts: whether their agent still reports, and the rotate-token and revoke-token
    # annotations (level-based: read at each tick, never through annotation-change handlers).
    @kopf.timer(
        GROUP, VERSION, PLURAL, id="agent-check", interval=services.accounts.agents.check_interval_seconds,
        initial_delay=services.accounts.agents.check_interval_seconds, when=_kubernetes, registry=registry,
    )  # fmt: skip
    async def agent_check(body: kopf.Body, **kwargs: Any) -> None:
        others = _claims_in(kwargs[INDEX], body)
        await handling.tick(
            accounts.reconcile(services.accounts, body, others),
            what="CloudAccount agent check",
            metrics=services.metrics.ops,
        )

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", registry=registry)
    async def delete_account(body: kopf.Body, **_: Any) -> None:
        meta = body.get("metadata", {})
        namespace = str(meta.get("namespace"))
        await accounts.cleanup(services.accounts, namespace, str(meta.get("name")))
        handling.post(await accounts.recheck_duplicates(services.accounts, namespace))
