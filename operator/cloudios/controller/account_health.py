"""CloudAccount reconcile: validate, honour suspend, resolve the Secret, probe, record, set conditions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from cloudios.api import CloudAccount
from cloudios.controller import conditions, secrets
from cloudios.controller.conditions import Observation
from cloudios.controller.notices import Notice, from_transitions
from cloudios.controller.services import Services
from cloudios.pipeline import health
from cloudios.pipeline.health import ProbeResult
from cloudios.security.redaction import redact_text
from cloudios.store.health import HealthCheckRecord

log = logging.getLogger(__name__)

KIND = "CloudAccount"
READY, CREDENTIALS_VALID, SCANNED = "Ready", "CredentialsValid", "Scanned"


def validation_message(exc: ValidationError, *, limit: int = 3) -> str:
    """pydantic errors as 'spec.field: what is wrong' lines (the field first, like the CLI)."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "spec"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse(body: Mapping[str, Any], model: type[Any]) -> Any:
    """The object without its status (which the operator writes) as a pydantic model."""
    meta = body.get("metadata", {})
    data = {
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "labels", "annotations", "generation", "uid")
            if meta.get(k) is not None
        },
        "spec": body.get("spec") or {},
    }
    return model.model_validate(data)


async def probe(services: Services, account: CloudAccount) -> ProbeResult:
    """Resolve the Secret and assume the role, in worker threads, bounded by the probe timeout."""
    async with services.probe_slots:
        return await _probe(services, account)


async def _probe(services: Services, account: CloudAccount) -> ProbeResult:
    timeout = services.settings.probe_timeout_seconds
    namespace = account.metadata.namespace
    try:
        credentials = await asyncio.to_thread(
            secrets.base_credentials, services.kube.core, namespace, account.spec, timeout=timeout
        )
    except secrets.SecretError as exc:
        return ProbeResult(ok=False, reason=exc.reason, message=exc.message)
    try:
        # Each AWS call has its own timeouts; the outer bound also covers retries and DNS.
        return await asyncio.wait_for(
            asyncio.to_thread(health.probe, account, base_credentials=credentials, timeout=timeout),
            timeout=timeout * 3,
        )
    except TimeoutError:
        return ProbeResult(
            ok=False,
            reason="ProbeTimedOut",
            message=f"the credential check did not finish within {timeout * 3:.0f}s: check network "
            "egress to the provider's API endpoints (and AWS_ENDPOINT_URL, if set).",
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


async def reconcile(services: Services, body: Mapping[str, Any]) -> list[Notice]:
    """Level-based: the same body always converges to the same status; never raises for bad input."""
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    async with services.locks.hold(KIND, namespace, name):
        account: CloudAccount | None = None
        error: str | None = None
        result: ProbeResult | None = None
        try:
            account = parse(body, CloudAccount)
        except ValidationError as exc:
            error = validation_message(exc)
        now = services.clock()
        status: dict[str, Any] = {}
        if account is not None and not account.spec.suspend:
            await asyncio.to_thread(
                services.store.upsert_account,
                tenant=namespace,
                name=name,
                provider=account.spec.provider.value,
                account_id=account.spec.account_id,
                now=now,
            )
            result = await probe(services, account)
            now = services.clock()
            await asyncio.to_thread(
                services.store.record_health_check,
                HealthCheckRecord(namespace, name, now, result.ok, result.reason, result.message),
            )
            status["lastHealthCheck"] = {
                "time": now.replace(microsecond=0).isoformat(),
                "ok": result.ok,
                "reason": result.reason,
                "message": redact_text(result.message),
            }
            log.info("health check of %s/%s: %s", namespace, name, result.reason)
        observations = _observations(account, error, result)
        ready = any(o.type == READY and o.status == "True" for o in observations)
        services.metrics.set_account_ready(namespace, name, ready=ready)
        return await write_conditions(services, body, observations, status)


async def write_conditions(
    services: Services,
    body: Mapping[str, Any],
    observations: list[Observation],
    extra: Mapping[str, Any] | None = None,
    *,
    kind: str = KIND,
) -> list[Notice]:
    """Merge observations into the latest stored conditions and patch the status (caller holds the lock)."""
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    latest = await asyncio.to_thread(services.kube.get, kind, namespace, name)
    if latest is None:
        return []
    existing = conditions.parse((latest.get("status") or {}).get("conditions"))
    if kind == KIND and conditions.find(existing, SCANNED) is None:
        observations = [
            *observations,
            Observation(SCANNED, "Unknown", "NotScannedYet", "no ScanPolicy has scanned this account yet."),
        ]
    generation = latest.get("metadata", {}).get("generation")
    merged, transitions = conditions.merge(
        existing, observations, generation=generation, now=services.clock()
    )
    status = {**(extra or {}), "conditions": conditions.dump(merged), "observedGeneration": generation}
    current = latest.get("status") or {}
    if any(current.get(key) != value for key, value in status.items()):  # timers mostly change nothing
        await asyncio.to_thread(services.kube.patch_status, kind, namespace, name, status)
    return from_transitions(latest, transitions)
