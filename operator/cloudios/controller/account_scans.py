"""One account's scan under a policy, in a worker thread, and what it tells the CloudAccount's status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import ValidationError

from cloudios.api import CloudAccount, ScanPolicy
from cloudios.controller import account_health, conditions, scan_jobs, secrets
from cloudios.controller.account_health import KIND, READY, SCANNED, parse
from cloudios.controller.conditions import Observation
from cloudios.controller.notices import Notice
from cloudios.controller.services import Services
from cloudios.domain import Money
from cloudios.pipeline.scan import ScanOutcome, scan
from cloudios.pipeline.selection import PolicyError
from cloudios.providers.base import ProviderError
from cloudios.security.redaction import redact_text

log = logging.getLogger(__name__)

Outcome = Literal["Succeeded", "Failed", "Skipped"]


@dataclass
class AccountRun:
    """How one selected account fared in a run."""

    name: str
    outcome: Outcome
    reason: str
    message: str
    last_run_time: datetime | None = None
    findings: int = 0
    result: ScanOutcome | None = None

    def entry(self) -> dict[str, Any]:
        """The ScanPolicy status.accounts[] item."""
        item: dict[str, Any] = {
            "name": self.name,
            "outcome": self.outcome,
            "findings": self.findings,
            "message": redact_text(self.message)[:1024],
        }
        if self.last_run_time is not None:
            item["lastRunTime"] = self.last_run_time.replace(microsecond=0).isoformat()
        return item


def skip_reason(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """Why an account cannot be scanned now (reason, message), or None when it can."""
    if (body.get("spec") or {}).get("suspend"):
        return "Suspended", "spec.suspend is true"
    ready = conditions.find(conditions.parse((body.get("status") or {}).get("conditions")), READY)
    if ready is None or ready.status == "Unknown":
        return "NotChecked", "its credentials have not been checked yet; it is scanned once they are"
    if ready.status != "True":
        return ready.reason, f"not Ready ({ready.reason}): {ready.message}"
    return None


def _failed(name: str, started: datetime, reason: str, message: str) -> AccountRun:
    return AccountRun(name, "Failed", reason, message, last_run_time=started)


async def scan_account(
    services: Services, policy: ScanPolicy, body: Mapping[str, Any], started: datetime
) -> AccountRun:
    """Scan one Ready account; failures become a Failed entry with a reason, never an exception."""
    name = str(body["metadata"]["name"])
    try:
        account: CloudAccount = parse(body, CloudAccount)
    except ValidationError as exc:
        return _failed(name, started, "InvalidSpec", account_health.validation_message(exc))
    timeout = services.settings.scan_timeout_seconds
    async with services.scan_slots:
        try:
            credentials = await asyncio.to_thread(
                secrets.base_credentials,
                services.kube.core,
                account.metadata.namespace,
                account.spec,
                timeout=services.settings.probe_timeout_seconds,
            )
            if services.settings.executor == "job":
                # The Jobs read the Secret themselves; reading it here only reports a bad one early.
                outcome = await asyncio.wait_for(scan_jobs.run(services, policy, account, started), timeout)
            else:
                outcome = await asyncio.wait_for(
                    asyncio.to_thread(
                        scan, account, policy, now=started, base_credentials=credentials, store=services.store
                    ),
                    timeout=timeout,
                )
        except (secrets.SecretError, ProviderError, scan_jobs.ShardFailedError) as exc:
            return _failed(name, started, exc.reason, exc.message)
        except PolicyError as exc:
            return _failed(name, started, "InvalidModule", str(exc))
        except TimeoutError:
            return _failed(
                name,
                started,
                "ScanTimedOut",
                f"the scan did not finish within {timeout:.0f}s (CLOUDIOS_SCAN_TIMEOUT_SECONDS); "
                "fewer regions or modules per policy, or a longer timeout, help.",
            )
        except Exception as exc:
            log.exception("scan of %s/%s failed", account.metadata.namespace, name)
            return _failed(name, started, "ScanError", f"the scan failed unexpectedly ({type(exc).__name__})")
    message = f"{len(outcome.findings)} finding(s) worth {outcome.total_monthly_savings}/month"
    if outcome.warnings:
        message += "; warnings: " + "; ".join(outcome.warnings[:3])
    return AccountRun(
        name,
        "Succeeded",
        "ScanSucceeded",
        message,
        last_run_time=started,
        findings=len(outcome.findings),
        result=outcome,
    )


def _open_savings(services: Services, namespace: str, name: str) -> Money:
    total = Decimal(0)
    for stored in services.store.findings(namespace, account_name=name):
        if stored.finding.monthly_savings is not None:
            total += stored.finding.monthly_savings.amount
    return Money(amount=total).rounded()


async def record_on_account(
    services: Services, policy: ScanPolicy, body: Mapping[str, Any], run: AccountRun
) -> list[Notice]:
    """Scanned condition, resource counts and open savings on the CloudAccount's status."""
    namespace, name = str(body["metadata"]["namespace"]), run.name
    async with services.locks.hold(KIND, namespace, name):
        extra: dict[str, Any] = {}
        if run.result is not None:
            status = "True"
            message = f"ScanPolicy {policy.metadata.name}: {run.message}"
            extra["resourceCounts"] = {"total": run.result.resources, **run.result.resource_counts}
            savings = await asyncio.to_thread(_open_savings, services, namespace, name)
            extra["potentialMonthlySavings"] = savings.model_dump(mode="json")
        else:
            status = "False"
            message = f"ScanPolicy {policy.metadata.name}: {run.message}"
        observation = Observation(SCANNED, status, run.reason, message)  # type: ignore[arg-type]
        return await account_health.write_conditions(services, body, [observation], extra)
