"""Credential health checks: can Cloudios reach this account with the access it was given?"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cloudios.api import CloudAccount
from cloudios.providers import registry
from cloudios.providers.base import AgentReports, Credentials, ProviderError

log = logging.getLogger(__name__)

VERIFIED = "CredentialsVerified"


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one check: a CamelCase reason and a message saying what to fix (no secrets)."""

    ok: bool
    reason: str
    message: str
    identity: str | None = None


def probe(
    account: CloudAccount,
    *,
    credentials: Credentials | None,
    timeout: float,
    agent_reports: AgentReports | None = None,
) -> ProbeResult:
    """Ask the account's provider to reach it with its credentials; never raises for a bad account.

    Blocking: call it in a worker thread. ``timeout`` bounds each network call; ``agent_reports``
    (the store's port) tells an agent-fed cluster's provider whether its agent reports.
    """
    spec = account.spec
    try:
        identity = registry.get(spec.provider).probe(
            spec,
            credentials,
            tenant=account.metadata.namespace,
            name=account.metadata.name,
            timeout=timeout,
            agent_reports=agent_reports,
        )
    except ProviderError as exc:
        return ProbeResult(ok=False, reason=exc.reason, message=exc.message)
    except Exception as exc:
        log.exception("credential probe of %s/%s failed", account.metadata.namespace, account.metadata.name)
        return ProbeResult(
            ok=False,
            reason="ProbeFailed",
            message=f"the credential check failed unexpectedly ({type(exc).__name__}); "
            "see the operator log and report it if it persists.",
        )
    return ProbeResult(
        ok=True,
        reason=VERIFIED,
        message=f"reached {spec.provider.value} account {spec.account_id} as {identity}; scans may run.",
        identity=identity,
    )
