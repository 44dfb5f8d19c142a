"""azure-core and azure-identity exceptions to ProviderError: a CamelCase reason, what failed, the fix."""

from __future__ import annotations

import re

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import CredentialUnavailableError

from cloudios.providers.base import ProviderError

THROTTLED = frozenset({429, 529})
UNAUTHORIZED, FORBIDDEN, NOT_FOUND = 401, 403, 404
_AADSTS = re.compile(r"AADSTS(\d+)")
_BAD_CLIENT = {"7000215", "7000222", "700016", "700024", "70021", "700213"}
_LONG_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{60,}")


def scrub(text: str) -> str:
    """Mask token-shaped substrings in a message that may come from Azure."""
    return _LONG_TOKEN.sub("<redacted>", text)[:300]


def _auth(exc: ClientAuthenticationError, operation: str) -> ProviderError:
    if isinstance(exc, CredentialUnavailableError):
        return ProviderError(
            "NoAzureIdentity",
            f"no Azure identity is available for {operation}: set spec.azure.clientSecretSecretRef, or "
            "give the operator workload identity (a federated credential for its ServiceAccount, "
            "AZURE_FEDERATED_TOKEN_FILE) or a managed identity with spec.azure.clientId.",
        )
    codes = set(_AADSTS.findall(str(exc)))
    if "90002" in codes:
        return ProviderError(
            "TenantNotFound", "Entra ID does not know spec.azure.tenantId; check the tenant ID (a GUID)."
        )
    detail = (
        "the client ID or secret is wrong or expired" if codes & _BAD_CLIENT else "the sign-in was refused"
    )
    return ProviderError(
        "CredentialsInvalid",
        f"Entra ID refused the token request for {operation}: {detail} "
        f"({', '.join(sorted(f'AADSTS{c}' for c in codes)) or 'no AADSTS code'}); check spec.azure.clientId, "
        "spec.azure.tenantId and the client secret (or the identity's federated credential).",
    )


def translate(exc: Exception, *, operation: str, where: str) -> ProviderError:
    """A ProviderError for ``exc`` raised by ``operation`` ('Microsoft.Insights/metrics') in ``where``."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ClientAuthenticationError) and exc.response is None:
        return _auth(exc, operation)  # raised by the credential: Entra ID refused, or no identity
    if isinstance(exc, HttpResponseError):
        return _http(exc, operation, where)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return ProviderError(
            "EndpointUnreachable",
            f"could not reach Azure for {operation} in {where} ({type(exc).__name__}); check network egress, "
            "proxies, REQUESTS_CA_BUNDLE and the endpoint settings.",
        )
    raise exc


def _http(exc: HttpResponseError, operation: str, where: str) -> ProviderError:
    status = exc.status_code or 0
    code = (exc.error.code if exc.error is not None else None) or exc.reason or ""
    detail = scrub(exc.message or "")
    if isinstance(exc, ClientAuthenticationError) and status != UNAUTHORIZED:
        return _auth(exc, operation)
    if status in THROTTLED:
        return ProviderError(
            "Throttled",
            f"Azure kept throttling {operation} in {where} (HTTP {status}) after all retries; the scan "
            "stopped rather than report partial results. Run it again later or lower maxConcurrency.",
        )
    if status == FORBIDDEN:
        return ProviderError(
            "PermissionDenied",
            f"{operation} was denied in {where} ({code}): assign the Cloudios custom role "
            "(docs/providers/azure.md) or Reader + Monitoring Reader on the subscription. "
            f"Azure said: {detail}",
        )
    if status == UNAUTHORIZED:
        return ProviderError(
            "CredentialsInvalid", f"ARM refused the access token for {operation} in {where}."
        )
    if status == NOT_FOUND:
        return ProviderError(
            "SubscriptionNotFound",
            f"{operation} in {where} answered 404 ({code}): check spec.azure.subscriptionId.",
        )
    return ProviderError(
        "AzureApiError",
        f"{operation} failed in {where} with HTTP {status} ({code}) after all retries: {detail}",
    )
