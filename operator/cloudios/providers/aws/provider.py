"""The AWS provider object: credentials, probe, region shards, collection, IAM policy and prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cloudios.api.cloudaccount import AwsAccount, CloudAccountSpec
from cloudios.domain import Provider as ProviderName
from cloudios.modules.base import Module
from cloudios.providers.aws import credentials as aws_credentials
from cloudios.providers.base import (
    AgentReports,
    CollectRequest,
    CollectResult,
    Credentials,
    ProviderError,
    Shard,
    sdk_module,
)

if TYPE_CHECKING:
    from cloudios.pricing import PriceBook

POLICY_VERSION = "2012-10-17"


def _sdk(module: str) -> Any:
    """A module of this provider that needs its SDK, imported on first use."""
    return sdk_module("aws", module)


def _block(account: CloudAccountSpec) -> AwsAccount:
    if account.aws is None:
        raise ProviderError("InvalidAccount", "the CloudAccount has no spec.aws block")
    return account.aws


class AwsProvider:
    """AWS through an assumed read-only role with an external ID; one shard per region."""

    name = ProviderName.AWS
    job_environment: tuple[str, ...] = (
        "AWS_ENDPOINT_URL",
        "AWS_CA_BUNDLE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_STS_REGIONAL_ENDPOINTS",
    )

    secret_format = (
        f"keys {aws_credentials.ACCESS_KEY_ID} and {aws_credentials.SECRET_ACCESS_KEY} "
        "(or a shared-credentials file under credentialsSecretRef.key)"
    )

    def credentials(self, secret_data: Mapping[str, bytes], *, secret: str, key: str | None) -> Credentials:
        return aws_credentials.parse(secret_data, secret=secret, key=key)

    def probe(
        self,
        account: CloudAccountSpec,
        credentials: Credentials | None,
        *,
        tenant: str,
        name: str,
        timeout: float,
        agent_reports: AgentReports | None = None,  # noqa: ARG002 - the agent-fed provider's
    ) -> str:
        collect = _sdk("collect")
        identity: str = _sdk("auth").probe(
            _block(account),
            tenant=tenant,
            account_name=name,
            base_credentials=collect.base_credentials(credentials),
            timeout=timeout,
        )
        return identity

    def collect(self, request: CollectRequest) -> CollectResult:
        result: CollectResult = _sdk("collect").collect(request)
        return result

    def shards(self, account: CloudAccountSpec) -> list[Shard]:
        aws = _block(account)
        _sdk("regions").validate_regions(aws.regions)  # no Job for a region that does not exist
        return [
            Shard(
                name=region,
                account=account.model_copy(update={"aws": aws.model_copy(update={"regions": [region]})}),
                scope=(region,),
            )
            for region in aws.regions
        ]

    def permissions(self, modules: Sequence[Module[Any]]) -> dict[str, Any]:
        """An IAM policy document with only the read-only actions the modules declare."""
        actions = sorted({p for m in modules if m.spec.provider == self.name for p in m.spec.permissions})
        return {
            "Version": POLICY_VERSION,
            "Statement": [{"Sid": "CloudiosReadOnly", "Effect": "Allow", "Action": actions, "Resource": "*"}],
        }

    def price_book(self) -> PriceBook:
        from cloudios.pricing import aws  # noqa: PLC0415 - the bundled book is parsed on first use

        return aws.bundled()

    def credentials_hint(self) -> str:
        return (
            "spec.aws.credentialsSecretRef is resolved only in the cluster; the CLI uses the standard AWS "
            "credential chain (environment, AWS_PROFILE and ~/.aws, SSO, instance or container roles) "
            "as base credentials"
        )
