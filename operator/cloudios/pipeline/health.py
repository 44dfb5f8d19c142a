"""Credential health checks: can Cloudios reach this account with the access it was given?"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from cloudios.api import CloudAccount
from cloudios.domain import Provider
from cloudios.providers.base import AwsBaseCredentials, ProviderError

log = logging.getLogger(__name__)

VERIFIED = "CredentialsVerified"

# provider -> (module, function, pip extra); SDKs load lazily like providers.registry.
_PROBES: dict[Provider, tuple[str, str, str]] = {
    Provider.AWS: ("cloudios.providers.aws.auth", "probe", "aws"),
}


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one check: a CamelCase reason and a message saying what to fix (no secrets)."""

    ok: bool
    reason: str
    message: str
    identity: str | None = None


def _prober(provider: Provider) -> Callable[..., str]:
    entry = _PROBES.get(provider)
    if entry is None:
        raise ProviderError(
            "ProviderNotImplemented",
            f"provider '{provider.value}' is not supported by this version of Cloudios yet; "
            f"supported: {', '.join(p.value for p in _PROBES)}",
        )
    module_path, name, extra = entry
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise ProviderError(
            "ProviderSdkMissing",
            f"the {provider.value} SDK is not installed ({exc.name}); install cloudios[{extra}]",
        ) from None
    fn: Callable[..., str] = getattr(module, name)
    return fn


def probe(
    account: CloudAccount, *, base_credentials: AwsBaseCredentials | None, timeout: float
) -> ProbeResult:
    """Assume the account's role and ask who we are; never raises for a bad account.

    Blocking: call it in a worker thread. ``timeout`` bounds each network call.
    """
    spec = account.spec
    try:
        fn = _prober(spec.provider)
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
