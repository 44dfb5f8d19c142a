"""Per-project Google credentials and clients: keyless impersonation first, a JSON key as fallback.

Every scan builds its own credentials from what the request carries: a service-account key from
the CloudAccount's Secret, or, without one, the operator's own identity from Application Default
Credentials (GKE Workload Identity, a Workload Identity Federation config file). Either may then
impersonate ``spec.gcp.impersonateServiceAccount`` through IAM Credentials ``generateAccessToken``.
Nothing is cached between accounts; the token is fetched (and so checked) before any read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import google.auth
import grpc
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import credentials as gcreds
from google.auth import exceptions as auth_exc
from google.auth import impersonated_credentials
from google.auth.transport import grpc as auth_grpc
from google.auth.transport import requests as auth_requests
from google.cloud import compute_v1, monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport
from google.oauth2 import service_account

from cloudios.api.cloudaccount import GcpAccount
from cloudios.providers.base import ProviderError
from cloudios.providers.gcp.calls import CallCounter
from cloudios.providers.gcp.credentials import GcpKeyCredentials
from cloudios.providers.gcp.errors import translate
from cloudios.providers.gcp.settings import GcpEndpoints, GcpTuning

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TOKEN_LIFETIME = 3600


def google_credentials(
    gcp: GcpAccount, key: GcpKeyCredentials | None, endpoints: GcpEndpoints
) -> gcreds.Credentials:
    """The credentials a scan of ``gcp`` uses (not yet refreshed)."""
    source: gcreds.Credentials
    if key is not None:
        source = service_account.Credentials.from_service_account_info(dict(key.info), scopes=SCOPES)
    else:
        try:
            source, _ = google.auth.default(scopes=SCOPES)
        except auth_exc.DefaultCredentialsError:
            raise ProviderError(
                "CredentialsMissing",
                "no GCP identity: run the operator with Workload Identity (or a Workload Identity "
                "Federation config in GOOGLE_APPLICATION_CREDENTIALS) or reference a key in "
                "spec.gcp.serviceAccountKeySecretRef.",
            ) from None
    target = gcp.impersonate_service_account
    if not target:
        return source
    return impersonated_credentials.Credentials(
        source_credentials=source,
        target_principal=target,
        target_scopes=list(SCOPES),
        lifetime=TOKEN_LIFETIME,
        iam_endpoint_override=(
            f"{endpoints.iamcredentials}/v1/projects/-/serviceAccounts/{target}:generateAccessToken"
            if endpoints.iamcredentials
            else None
        ),
    )


def identity_of(credentials: gcreds.Credentials) -> str:
    """The service account's e-mail, or a description of the ambient identity."""
    for attr in ("service_account_email", "signer_email"):
        value = getattr(credentials, attr, None)
        if isinstance(value, str) and value and value != "default":
            return value
    return type(credentials).__name__


@dataclass
class ProjectSession:
    """A project's refreshed credentials and the clients built from them (all thread-safe)."""

    project: str
    credentials: gcreds.Credentials = field(repr=False)
    endpoints: GcpEndpoints
    tuning: GcpTuning
    counter: CallCounter = field(repr=False)
    identity: str = ""

    def compute(self, client: type[Any]) -> Any:
        """A Compute Engine REST client (``compute_v1.InstancesClient`` and the like)."""
        return client(
            credentials=self.credentials,
            client_options=ClientOptions(api_endpoint=self.endpoints.compute),
        )

    def monitoring(self) -> monitoring_v3.MetricServiceClient:
        """The Cloud Monitoring gRPC client on a TLS channel carrying this project's token."""
        channel = auth_grpc.secure_authorized_channel(
            self.credentials,
            auth_requests.Request(),
            self.endpoints.monitoring,
            ssl_credentials=grpc.ssl_channel_credentials(
                root_certificates=self.endpoints.root_certificates()
            ),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        transport = MetricServiceGrpcTransport(channel=channel)
        return monitoring_v3.MetricServiceClient(transport=transport)

    def http(self) -> auth_requests.AuthorizedSession:
        """An authorized requests session for REST APIs without a client library here (Cloud SQL)."""
        return auth_requests.AuthorizedSession(self.credentials)


def open_project_session(
    *,
    gcp: GcpAccount,
    key: GcpKeyCredentials | None,
    endpoints: GcpEndpoints,
    tuning: GcpTuning,
    counter: CallCounter,
) -> ProjectSession:
    """Credentials fetched and checked (a token is issued) before anything is read."""
    credentials = google_credentials(gcp, key, endpoints)
    try:
        credentials.refresh(auth_requests.Request())
    except (auth_exc.RefreshError, auth_exc.TransportError) as exc:
        raise translate(exc, operation="token exchange", project=gcp.project_id) from None
    counter.add("oauth2.token")
    return ProjectSession(
        project=gcp.project_id,
        credentials=credentials,
        endpoints=endpoints,
        tuning=tuning,
        counter=counter,
        identity=identity_of(credentials),
    )


def probe(gcp: GcpAccount, key: GcpKeyCredentials | None, *, timeout: float) -> str:
    """The health check: a token, then ``projects.get`` on the project; returns the identity used."""
    tuning = GcpTuning(retry_deadline=min(10.0, timeout), timeout=timeout)
    counter = CallCounter()
    session = open_project_session(
        gcp=gcp, key=key, endpoints=GcpEndpoints.from_environment(), tuning=tuning, counter=counter
    )
    projects = session.compute(compute_v1.ProjectsClient)
    try:
        found = projects.get(
            project=gcp.project_id, retry=counter.retry("compute.projects.get", tuning), timeout=timeout
        )
    except (gexc.GoogleAPICallError, gexc.RetryError, auth_exc.GoogleAuthError) as exc:
        raise translate(exc, operation="compute.projects.get", project=gcp.project_id) from None
    if found.name and found.name != gcp.project_id:
        raise ProviderError(
            "ProjectMismatch",
            f"the API answered for project {found.name}, but spec.gcp.projectId is {gcp.project_id}.",
        )
    return f"{session.identity} on project {gcp.project_id}"
