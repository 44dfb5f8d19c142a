"""Credential health checks: can Cloudios reach this account with the access it was given?"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cloudios.api import CloudAccount
from cloudios.providers import registry
from cloudios.providers.base import AwsBaseCredentials, ProviderError

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
    account: CloudAccount, *, base_credentials: AwsBaseCredentials | None, timeout: float
) -> ProbeResult:
    """Assume the account's role and ask who we are; never raises for a bad account.

    Blocking: call it in a worker thread. ``timeout`` bounds each network call.
    """
    spec = account.spec
    try:
        fn = registry.prober(spec.provider)
        block = getattr(spec, spec.provider.value)
        identity = fn(
            block,
            tenant=account.metadata.namespace,
            account_name=account.metadata.name,
            base_credentials=base_credentials,
            timeout=timeout,
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
        message=f"assumed {identity} in account {spec.account_id}; scans may run.",
        identity=identity,
    )
