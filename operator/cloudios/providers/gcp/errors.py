"""Google API errors -> ProviderError with a CamelCase reason and a message that says what to fix."""

from __future__ import annotations

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

from cloudios.providers.base import ProviderError

ROLE_DOC = "docs/providers/gcp.md"


def translate(exc: Exception, *, operation: str, project: str) -> ProviderError:  # noqa: PLR0911 - one per kind
    """The ProviderError for ``exc`` raised by ``operation`` on ``project``; never echoes secrets."""
    if isinstance(exc, auth_exc.RefreshError | gexc.Unauthenticated):
        return ProviderError(
            "CredentialsInvalid",
            f"Google rejected the credentials while calling {operation}: the key may be revoked or "
            "deleted, or the identity may not be allowed to impersonate the service account "
            "(roles/iam.serviceAccountTokenCreator); fix the Secret or the impersonation setup.",
        )
    if isinstance(exc, auth_exc.TransportError):
        return ProviderError(
            "GcpUnreachable", f"could not reach Google's token endpoint for {operation}; check egress."
        )
    if isinstance(exc, gexc.PermissionDenied | gexc.Forbidden):
        return ProviderError(
            "PermissionDenied",
            f"{operation} on project {project} was denied: grant the identity the Cloudios custom "
            f"role of {ROLE_DOC} on the project.",
        )
    if isinstance(exc, gexc.NotFound):
        return ProviderError(
            "ProjectNotFound",
            f"{operation}: project {project} was not found or its API is not enabled; check "
            "spec.gcp.projectId and enable the Compute Engine, Cloud Monitoring and Cloud SQL Admin APIs.",
        )
    if isinstance(exc, gexc.ResourceExhausted | gexc.TooManyRequests | gexc.RetryError):
        return ProviderError(
            "Throttled",
            f"{operation} on project {project} stayed throttled after retries; the next scan "
            "retries, or raise the project's API quota.",
        )
    if isinstance(exc, gexc.GoogleAPICallError):
        return ProviderError("GcpApiError", f"{operation} on project {project} failed: {exc.message}")
    return ProviderError("GcpApiError", f"{operation} on project {project} failed: {type(exc).__name__}")
