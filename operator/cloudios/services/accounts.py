"""CloudAccount health: validate, honour suspend, resolve the Secret, probe, record, set conditions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from cloudios.api import CloudAccount, CloudAccountStatus, HealthCheck
from cloudios.api.names import CLOUD_ACCOUNT, LABEL_ACCOUNT, RECOMMENDATION, label_value
from cloudios.api.objects import name_of, parse, status_patch, validation_message
from cloudios.domain import Provider
from cloudios.pipeline import health
from cloudios.pipeline.health import ProbeResult
from cloudios.providers.base import ProviderError
from cloudios.security.redaction import redact
from cloudios.services import (
    account_identity,
    cluster_agents,
    credentials,
    event_notifications,
    policy_metrics,
)
from cloudios.services.account_identity import Claim
from cloudios.services.context import AccountChecks
from cloudios.services.schedule import parse_time
from cloudios.sinks import conditions
from cloudios.sinks.conditions import Observation
from cloudios.sinks.kube import describe
from cloudios.sinks.notices import Notice
from cloudios.store.health import HealthCheckRecord

log = logging.getLogger(__name__)

KIND = CLOUD_ACCOUNT
CLEANUP_ATTEMPTS = 3
CLEANUP_TIMEOUT_SECONDS = 20.0
READY, CREDENTIALS_VALID, SCANNED = "Ready", "CredentialsValid", "Scanned"


async def probe(checks: AccountChecks, account: CloudAccount) -> ProbeResult:
    """Resolve the Secret and reach the account, in worker threads, bounded by the probe timeout."""
    async with checks.slots:
        return await _probe(checks, account)


async def _probe(checks: AccountChecks, account: CloudAccount) -> ProbeResult:
    timeout = checks.settings.timeout_seconds
    namespace = account.metadata.namespace
    try:
        found = await asyncio.to_thread(
            credentials.resolve, checks.kube, namespace, account.spec, timeout=timeout
        )
    except ProviderError as exc:
        return ProbeResult(ok=False, reason=exc.reason, message=exc.message)
    try:
        # Each cloud call has its own timeouts; the outer bound also covers retries and DNS.
        return await asyncio.wait_for(
            asyncio.to_thread(
                health.probe, account, credentials=found, timeout=timeout, agent_reports=checks.agent_reports
            ),
            timeout=timeout * 3,
        )
    except TimeoutError:
        return ProbeResult(
            ok=False,
            reason="ProbeTimedOut",
            message=f"the credential check did not finish within {timeout * 3:.0f}s: check network "
            "egress to the provider's API endpoints (and any endpoint override the provider's SDK reads).",
        )


def _observations(
    account: CloudAccount | None, error: str | None, result: ProbeResult | None
) -> list[Observation]:
    if account is None:
        return [Observation(READY, "False", "InvalidSpec", f"{error}; fix the CloudAccount spec.")]
    if account.spec.suspend:
        return [
            Observation(
                READY,
                "False",
                "Suspended",
                "spec.suspend is true: no health checks or scans run; set it to false to resume.",
            )
        ]
    assert result is not None
    return [
        Observation(CREDENTIALS_VALID, "True" if result.ok else "False", result.reason, result.message),
        Observation(READY, "True" if result.ok else "False", result.reason, result.message),
    ]


def _news(body: Mapping[str, Any], result: ProbeResult) -> bool:
    """Whether a check is worth a health-check row: a kubernetes account is checked every minute
    (its agent timer), so only a changed outcome is recorded; every other check is recorded."""
    if (body.get("spec") or {}).get("provider") != Provider.KUBERNETES.value:
        return True
    last = (body.get("status") or {}).get("lastHealthCheck") or {}
    return (last.get("ok"), last.get("reason")) != (result.ok, result.reason)


async def reconcile(
    checks: AccountChecks, body: Mapping[str, Any], others: Iterable[Claim] | None = None
) -> list[Notice]:
    """Level-based: the same body always converges to the same status; never raises for bad input.

    ``others``: what the namespace's CloudAccounts claim (kopf's index); listed from the API when
    not given.
    """
    namespace, name = name_of(body)
    async with checks.locks.hold(KIND, namespace, name):
        account: CloudAccount | None = None
        error: str | None = None
        result: ProbeResult | None = None
        try:
            account = parse(body, CloudAccount)
        except ValidationError as exc:
            error = validation_message(exc)
        now = checks.clock()
        status: dict[str, Any] = {}
        notices: list[Notice] = []
        owner: str | None = None
        if account is not None and not account.spec.suspend:
            if others is None:
                bodies = await asyncio.to_thread(checks.kube.items, KIND, namespace)
                others = [account_identity.claim_of(b) for b in bodies]
            owner = account_identity.claimed_by(body, others)
        if account is not None and not account.spec.suspend and owner is None:
            await asyncio.to_thread(
                checks.store.upsert_account,
                tenant=namespace,
                name=name,
                provider=account.spec.provider.value,
                account_id=account.spec.account_id,
                now=now,
            )
            agent: dict[str, Any] = {}
            if account.spec.provider is Provider.KUBERNETES:
                checked = await cluster_agents.check(
                    checks.store, checks.kube, body, account, now=now, settings=checks.agents
                )
                result, agent, notices = checked.result, checked.status, checked.notices
            else:
                result = await probe(checks, account)
            now = checks.clock()
            if _news(body, result):
                await asyncio.to_thread(
                    checks.store.record_health_check,
                    HealthCheckRecord(namespace, name, now, result.ok, result.reason, result.message),
                )
            status = (
                status_patch(
                    CloudAccountStatus(
                        last_health_check=HealthCheck(
                            time=now.replace(microsecond=0),
                            ok=result.ok,
                            reason=result.reason,
                            message=redact(result.message),
                        )
                    )
                )
                | agent
            )
            log.info("health check of %s/%s: %s", namespace, name, result.reason)
        if owner is not None:
            observations = [account_identity.duplicate(owner, body)]
        else:
            observations = _observations(account, error, result)
        ready = any(o.type == READY and o.status == "True" for o in observations)
        checks.metrics.set_account_ready(namespace, name, ready=ready)
        if result is not None and account is not None:
            _record_health(checks, account, result, agent)
        if result is not None and not result.ok:
            await event_notifications.credentials_invalid(
                checks.notifier, checks.kube, body, reason=result.reason, message=result.message
            )
        return notices + await checks.status.write(body, observations, status)


def _record_health(
    checks: AccountChecks, account: CloudAccount, result: ProbeResult, agent: Mapping[str, Any]
) -> None:
    """Credentials validity (cloud accounts) or the agent's last report (kubernetes accounts)."""
    namespace, name = account.metadata.namespace, account.metadata.name
    if account.spec.provider is not Provider.KUBERNETES:
        checks.metrics.ops.set_credentials(namespace, name, ok=result.ok, reason=result.reason)
        return
    last = parse_time(agent.get("lastReportAt"))
    if last is not None:
        checks.metrics.ops.set_agent_report(namespace, name, last)


async def cleanup(checks: AccountChecks, namespace: str, name: str) -> None:
    """Mark the account deleted in the store and delete its Recommendations; bounded, never stuck.

    After the last failed attempt the finalizer is released anyway: a CloudAccount that cannot be
    deleted is worse than a leftover Recommendation (which a later run or a user can remove).
    """
    for attempt in range(1, CLEANUP_ATTEMPTS + 1):
        try:
            await asyncio.wait_for(_cleanup_once(checks, namespace, name), CLEANUP_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - bounded retries, then let go (see docstring)
            log.warning(
                "cleanup of CloudAccount %s/%s, attempt %d of %d: %s",
                namespace,
                name,
                attempt,
                CLEANUP_ATTEMPTS,
                describe(exc),
            )
            await asyncio.sleep(min(2**attempt, 10))
        else:
            checks.locks.forget(CLOUD_ACCOUNT, namespace, name)
            checks.metrics.forget_account(namespace, name)
            return
    log.error("cleanup of CloudAccount %s/%s gave up; its finalizer is released anyway", namespace, name)
    checks.metrics.forget_account(namespace, name)


async def _cleanup_once(checks: AccountChecks, namespace: str, name: str) -> None:
    now = checks.clock()
    await asyncio.to_thread(checks.store.mark_account_deleted, tenant=namespace, name=name, now=now)
    # A kubernetes account's agent tokens stop working now (ingest reuses a lookup for at most
    # CLOUDIOS_INGEST_TOKEN_CACHE_SECONDS); its token Secret goes with it (owner reference).
    await asyncio.to_thread(checks.store.revoke_cluster_tokens, namespace, name, now=now)
    deleted = await asyncio.to_thread(
        checks.kube.delete_labelled, RECOMMENDATION, namespace, f"{LABEL_ACCOUNT}={label_value(name)}"
    )
    await policy_metrics.refresh_savings(
        checks.store, checks.metrics, namespace
    )  # its findings no longer count
    log.info(
        "CloudAccount %s/%s deleted: data marked for purge, %d recommendation(s) removed",
        namespace,
        name,
        deleted,
    )


async def recheck_duplicates(checks: AccountChecks, namespace: str) -> list[Notice]:
    """After a deletion, a CloudAccount waiting as a duplicate of the deleted one takes over now, not
    an interval later. Never raises: the deletion must not wait on this; the next check catches up."""
    notices: list[Notice] = []
    try:
        bodies = await asyncio.to_thread(checks.kube.items, KIND, namespace)
        for body in bodies:
            ready = conditions.find(conditions.parse((body.get("status") or {}).get("conditions")), READY)
            if ready is not None and ready.reason == account_identity.DUPLICATE:
                notices.extend(await reconcile(checks, body))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("re-checking duplicates in %s after a deletion: %s", namespace, describe(exc))
    return notices
