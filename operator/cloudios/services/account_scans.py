"""One account's scan under a policy, in a worker thread, and what it tells the CloudAccount's status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from cloudios.api import CloudAccount, CloudAccountStatus, ScannedAccount, ScanPolicy
from cloudios.api.names import CLOUD_ACCOUNT
from cloudios.api.objects import parse, status_patch, validation_message
from cloudios.domain import SavingsSummary
from cloudios.pipeline.scan import ScanOutcome, scan
from cloudios.pipeline.selection import PolicyError
from cloudios.providers.base import ProviderError
from cloudios.security.redaction import redact
from cloudios.services import credentials, scan_jobs
from cloudios.services.context import PolicyRuns
from cloudios.sinks import conditions
from cloudios.sinks.conditions import Observation
from cloudios.sinks.notices import Notice

log = logging.getLogger(__name__)

Outcome = Literal["Succeeded", "Failed", "Skipped"]
READY, SCANNED = "Ready", "Scanned"


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

    def entry(self) -> ScannedAccount:
        """The ScanPolicy status.accounts[] item."""
        return ScannedAccount(
            name=self.name,
            outcome=self.outcome,
            findings=self.findings,
            message=redact(self.message)[:1024],
            last_run_time=self.last_run_time.replace(microsecond=0) if self.last_run_time else None,
        )


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
    runs: PolicyRuns, policy: ScanPolicy, body: Mapping[str, Any], started: datetime
) -> AccountRun:
    """Scan one Ready account; failures become a Failed entry with a reason, never an exception."""
    name = str(body["metadata"]["name"])
    try:
        account: CloudAccount = parse(body, CloudAccount)
    except ValidationError as exc:
        return _failed(name, started, "InvalidSpec", validation_message(exc))
    timeout = runs.settings.timeout_seconds
    async with runs.slots:
        try:
            found = await asyncio.to_thread(
                credentials.resolve,
                runs.kube,
                account.metadata.namespace,
                account.spec,
                timeout=runs.probe_timeout_seconds,
            )
            if runs.settings.executor == "job":
                # The Jobs read the Secret themselves; reading it here only reports a bad one early.
                outcome = await asyncio.wait_for(scan_jobs.run(runs, policy, account, started), timeout)
            else:
                outcome = await asyncio.wait_for(
                    asyncio.to_thread(
                        scan,
                        account,
                        policy,
                        now=started,
                        credentials=found,
                        store=runs.store,
                        agent_reports=runs.agent_reports,
                    ),
                    timeout=timeout,
                )
        except (ProviderError, scan_jobs.ShardFailedError) as exc:
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
    message = f"{len(outcome.findings)} finding(s) worth {outcome.savings().money}/month"
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


def _open_savings(runs: PolicyRuns, namespace: str, name: str) -> SavingsSummary:
    return SavingsSummary.of(s.finding for s in runs.store.findings(namespace, account_name=name))


async def record_on_account(
    runs: PolicyRuns, policy: ScanPolicy, body: Mapping[str, Any], run: AccountRun
) -> list[Notice]:
    """Scanned condition, resource counts and open savings on the CloudAccount's status."""
    namespace, name = str(body["metadata"]["namespace"]), run.name
    async with runs.locks.hold(CLOUD_ACCOUNT, namespace, name):
        extra: dict[str, Any] = {}
        message = f"ScanPolicy {policy.metadata.name}: {run.message}"
        if run.result is not None:
            status = "True"
            savings = await asyncio.to_thread(_open_savings, runs, namespace, name)
            extra = status_patch(
                CloudAccountStatus(
                    resource_counts={"total": run.result.resources, **run.result.resource_counts},
                    potential_monthly_savings=savings.money,
                )
            )
        else:
            status = "False"
        observation = Observation(SCANNED, status, run.reason, message)  # type: ignore[arg-type]
        return await runs.status.write(body, [observation], extra)
