"""CloudAccount: one cloud account (read-only access) or one agent-fed cluster to watch."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import Field, model_validator

from cloudios.api.common import ApiModel, Condition, ObjectMeta, SecretKeyRef
from cloudios.domain.enums import Provider
from cloudios.domain.money import Money

ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$"


class AwsAccount(ApiModel):
    """Read-only access to an AWS account through an assumed role."""

    account_id: str = Field(pattern=r"^[0-9]{12}$", description="12-digit AWS account ID.")
    role_arn: str = Field(
        pattern=ROLE_ARN_PATTERN,
        description="ARN of the read-only role Cloudios assumes, "
        "e.g. arn:aws:iam::123456789012:role/cloudios-readonly.",
    )
    external_id: str = Field(
        min_length=2,
        max_length=1224,
        pattern=r"^[A-Za-z0-9_+=,.@:/-]+$",
        description="External ID the role's trust policy requires (one per customer account).",
    )
    regions: list[str] = Field(
        min_length=1,
        max_length=40,
        description="Regions to scan, e.g. [us-east-1, eu-west-1].",
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret with base credentials (keys aws_access_key_id, aws_secret_access_key); "
        "without it the operator's own identity (IRSA, instance profile) is used.",
    )

    @model_validator(mode="after")
    def _regions_well_formed(self) -> Self:
        import re  # noqa: PLC0415

        bad = [r for r in self.regions if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", r)]
        if bad:
            raise ValueError(f"regions: {bad} are not AWS region names like us-east-1")
        if len(set(self.regions)) != len(self.regions):
            raise ValueError("regions: a region is listed twice")
        return self


class GcpAccount(ApiModel):
    """Read-only access to a GCP project through a service account."""

    project_id: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="GCP project ID.")
    impersonate_service_account: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$",
        description="Read-only service account to impersonate (recommended, no key): the operator's "
        "own identity (GKE Workload Identity or Workload Identity Federation) needs "
        "roles/iam.serviceAccountTokenCreator on it.",
    )
    service_account_key_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Fallback: Secret holding a service-account JSON key (key 'key.json'); "
        "without it the operator's own identity is used.",
    )


GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class AzureAccount(ApiModel):
    """Read-only access to an Azure subscription: workload or managed identity, or a service principal."""

    subscription_id: str = Field(pattern=GUID_PATTERN, description="Azure subscription ID (GUID).")
    tenant_id: str = Field(pattern=GUID_PATTERN, description="Entra ID tenant ID (GUID).")
    client_id: str = Field(
        pattern=GUID_PATTERN,
        description="Application (client) ID of the identity Cloudios uses: the user-assigned managed "
        "identity or app registration federated with the operator's ServiceAccount (workload "
        "identity, recommended), or a service principal whose secret clientSecretSecretRef names.",
    )
    client_secret_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding a service principal's client secret (key 'clientSecret' unless "
        "key is set). Without it the operator's own identity is used: workload identity "
        "(AZURE_FEDERATED_TOKEN_FILE) or else the managed identity with clientId.",
    )

    @model_validator(mode="after")
    def _ids_distinct(self) -> Self:
        if self.client_id.lower() == self.tenant_id.lower():
            raise ValueError(
                "clientId: equals tenantId; set the identity's application (client) ID, not the tenant ID"
            )
        if self.subscription_id.lower() == self.tenant_id.lower():
            raise ValueError("subscriptionId: equals tenantId; set the subscription's own ID")
        return self


class KubernetesCluster(ApiModel):
    """A customer cluster whose workloads the Cloudios agent reports."""

    cluster_name: str = Field(min_length=1, max_length=63, description="Name the agent reports under.")


class CloudAccountSpec(ApiModel):
    """Which account to watch and how to reach it; exactly one provider block, matching provider."""

    provider: Provider = Field(description="aws, gcp, azure or kubernetes.")
    aws: AwsAccount | None = Field(default=None, description="Required when provider is aws.")
    gcp: GcpAccount | None = Field(default=None, description="Required when provider is gcp.")
    azure: AzureAccount | None = Field(default=None, description="Required when provider is azure.")
    kubernetes: KubernetesCluster | None = Field(
        default=None, description="Required when provider is kubernetes."
    )
    suspend: bool = Field(default=False, strict=True, description="Pause all processing of this account.")

    @model_validator(mode="after")
    def _one_block_matching_provider(self) -> Self:
        blocks = {p.value: getattr(self, p.value) for p in Provider}
        present = [name for name, block in blocks.items() if block is not None]
        if blocks[self.provider.value] is None:
            raise ValueError(
                f"{self.provider.value}: provider is '{self.provider.value}' but the "
                f"'{self.provider.value}' block is missing; add spec.{self.provider.value}"
            )
        extra = [p for p in present if p != self.provider.value]
        if extra:
            raise ValueError(
                f"{extra[0]}: only the '{self.provider.value}' block may be set; remove spec.{extra[0]}"
            )
        return self

    def secret_ref(self) -> tuple[str, SecretKeyRef] | None:
        """The active provider block's Secret reference with its field path, or None."""
        for field in ("credentials_secret_ref", "service_account_key_secret_ref", "client_secret_secret_ref"):
            ref = getattr(getattr(self, self.provider.value), field, None)
            if isinstance(ref, SecretKeyRef):
                camel = "".join(w.capitalize() if i else w for i, w in enumerate(field.split("_")))
                return f"spec.{self.provider.value}.{camel}", ref
        return None

    @property
    def account_id(self) -> str:
        """The provider's identifier of the account (AWS account, GCP project, ...)."""
        if self.aws is not None:
            return self.aws.account_id
        if self.gcp is not None:
            return self.gcp.project_id
        if self.azure is not None:
            return self.azure.subscription_id
        assert self.kubernetes is not None  # guaranteed by the validator
        return self.kubernetes.cluster_name


class HealthCheck(ApiModel):
    """Outcome of the last credential and reachability check."""

    time: datetime = Field(description="When the check ran.")
    ok: bool = Field(description="Whether the credentials worked and the account answered.")
    reason: str = Field(description="CamelCase reason, e.g. Verified, AssumeRoleDenied, SecretNotFound.")
    message: str = Field(default="", description="Human-readable detail saying what to do next.")


class CloudAccountStatus(ApiModel):
    """What the operator last observed about the account."""

    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready (summary), CredentialsValid (the last health check passed) and Scanned "
        "(the last scan succeeded).",
    )
    last_health_check: HealthCheck | None = Field(default=None, description="The last health check.")
    resource_counts: dict[str, int] = Field(
        default_factory=dict, description="Resources seen by the last scan, by type (e.g. ec2.instance: 42)."
    )
    potential_monthly_savings: Money | None = Field(
        default=None, description="Sum of the open recommendations' monthly savings for this account."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status was computed from."
    )
    agent_install_ref: str | None = Field(
        default=None,
        description="kubernetes: name of the Secret in this namespace whose key 'token' holds the cluster's "
        "agent token, written once (and again on rotation) for the agent's helm install; never shown here.",
    )
    last_report_at: datetime | None = Field(
        default=None, description="kubernetes: when the cluster's agent last reported to ingest."
    )


class CloudAccount(ApiModel):
    """The CloudAccount custom resource."""

    api_version: Literal["cloudios.io/v1alpha1"] = "cloudios.io/v1alpha1"
    kind: Literal["CloudAccount"] = "CloudAccount"
    metadata: ObjectMeta
    spec: CloudAccountSpec
    status: CloudAccountStatus | None = None
