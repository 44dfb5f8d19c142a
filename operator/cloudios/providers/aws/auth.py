"""Per-account AWS sessions: base credentials -> AssumeRole(ExternalId) -> checked identity.

Every scan gets its own ``boto3.session.Session`` objects; nothing uses boto3's default session,
module-level clients or the process environment for credentials. The base session comes from
explicit credentials (a CloudAccount's Secret) or, without them, from botocore's standard chain
(environment, shared config, web identity/IRSA, container and instance metadata). The assumed
role's temporary credentials build a second, fresh session, and ``GetCallerIdentity`` through it
must name the account the CloudAccount declares before anything is read.

Endpoints are never overridden, so boto3's own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``
settings keep working (tests point them at a local emulator).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3.session
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp

from cloudios.providers.aws.calls import CallCounter
from cloudios.providers.aws.credentials import AwsBaseCredentials
from cloudios.providers.aws.errors import DENIED_CODES, error_code, translate
from cloudios.providers.aws.regions import validate_regions
from cloudios.providers.aws.tuning import AwsTuning
from cloudios.providers.base import ProviderError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

    from cloudios.api.cloudaccount import AwsAccount

_SESSION_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9_+=,.@-]")
SESSION_NAME_MAX = 64


def role_session_name(tenant: str, account_name: str) -> str:
    """``cloudios-<tenant>-<account>`` in AssumeRole's charset, at most 64 characters.

    The name shows up in the customer's CloudTrail, so it says who is calling and for what.
    """
    name = _SESSION_NAME_BAD_CHARS.sub("-", f"cloudios-{tenant}-{account_name}")
    return name[:SESSION_NAME_MAX]


def client_config(tuning: AwsTuning, region: str, pool: int) -> Config:
    """Adaptive retries (backoff with jitter, client-side rate limiting), timeouts, pool size."""
    return Config(
        region_name=region,
        retries={"mode": "adaptive", "total_max_attempts": tuning.max_attempts},
        connect_timeout=tuning.connect_timeout,
        read_timeout=tuning.read_timeout,
        max_pool_connections=max(10, pool),
        user_agent_extra="cloudios",
    )


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def utc_timestamp(value: Any) -> datetime:
    """Response timestamps as UTC datetimes.

    botocore's default parser converts every timestamp to the local zone through dateutil, about
    0.1 ms each: 4 s of CPU per full GetMetricData answer (45,000 timestamps).
    """
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return parse_timestamp(value).astimezone(UTC)


def new_session(
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    region: str,
) -> boto3.session.Session:
    """A fresh boto3 session on its own botocore session (never boto3's default session)."""
    core = botocore.session.Session()
    # Service models are the same for every account: parse them once, not per scan (~0.1 s
    # each). The loader holds no credentials.
    core.register_component("data_loader", _shared_loader())
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
    return boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=region,
        botocore_session=core,
    )


def base_session(credentials: AwsBaseCredentials | None, region: str) -> boto3.session.Session:
    """A new session from explicit credentials, or from the standard chain when None."""
    if credentials is not None:
        return new_session(
            access_key_id=credentials.access_key_id,
            secret_access_key=credentials.secret_access_key,
            session_token=credentials.session_token,
            region=region,
        )
    return new_session(region=region)


@dataclass
class AccountSession:
    """An assumed-role session for one account; creates counted clients.

    The session is not thread-safe: create every client in the thread that owns this object,
    then hand the (thread-safe) clients to workers.
    """

    account_id: str
    session: boto3.session.Session = field(repr=False)
    tuning: AwsTuning
    counter: CallCounter = field(repr=False)
    pool: int = 10
    identity_arn: str = ""

    def client(self, service: str, region: str) -> Any:
        client = self.session.client(  # type: ignore[call-overload]
            service, config=client_config(self.tuning, region, self.pool)
        )
        self.counter.attach(client, service)
        return client


def open_account_session(
    *,
    aws: AwsAccount,
    tenant: str,
    account_name: str,
    base_credentials: AwsBaseCredentials | None,
    tuning: AwsTuning,
    counter: CallCounter,
    pool: int = 10,
) -> AccountSession:
    """AssumeRole into ``aws.role_arn`` with the external ID and verify the account."""
    region = aws.regions[0]
    try:  # an unknown AWS_PROFILE fails here, before any request
        base = base_session(base_credentials, region)
        sts: STSClient = base.client("sts", config=client_config(tuning, region, 1))
    except BotoCoreError as exc:
        raise translate(exc, operation="sts:AssumeRole", where=region) from None
    counter.attach(sts, "sts")
    try:
        assumed = sts.assume_role(
            RoleArn=aws.role_arn,
            RoleSessionName=role_session_name(tenant, account_name),
            ExternalId=aws.external_id,
            DurationSeconds=tuning.session_duration_seconds,
        )
    except ClientError as exc:
        if error_code(exc) in DENIED_CODES:
            raise ProviderError(
                "AssumeRoleDenied",
                f"AssumeRole into {aws.role_arn} was denied: the role's trust policy must allow "
                "the Cloudios identity to call sts:AssumeRole with a condition sts:ExternalId "
                "equal to spec.aws.externalId; check the role ARN, the trust policy and the "
                "external ID configured on both sides.",
            ) from None
        raise translate(exc, operation="sts:AssumeRole", where=region) from None
    except BotoCoreError as exc:
        raise translate(exc, operation="sts:AssumeRole", where=region) from None
    creds = assumed["Credentials"]
    session = new_session(
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        region=region,
    )
    account = AccountSession(
        account_id=aws.account_id, session=session, tuning=tuning, counter=counter, pool=pool
    )
    identity_client: STSClient = account.client("sts", region)
    try:
        identity = identity_client.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, operation="sts:GetCallerIdentity", where=region) from None
    actual = identity["Account"]
    account.identity_arn = identity.get("Arn", "")
    if actual != aws.account_id:
        raise ProviderError(
            "AccountMismatch",
            f"roleArn {aws.role_arn} led into AWS account {actual}, but spec.aws.accountId is "
            f"{aws.account_id}; nothing was scanned. Fix accountId or roleArn so both name the "
            "same account.",
        )
    return account


def probe(
    aws: AwsAccount,
    *,
    tenant: str,
    account_name: str,
    base_credentials: AwsBaseCredentials | None,
    timeout: float,
) -> str:
    """The credential health check: AssumeRole + GetCallerIdentity; returns the caller ARN.

    Raises ProviderError (UnknownRegion, AssumeRoleDenied, AccountMismatch, CredentialsInvalid,
    ...) like a scan would; regions are checked first, before any call. Few retries and short
    timeouts: a health check should answer quickly, not wait out throttling.
    """
    validate_regions(aws.regions)
    tuning = AwsTuning(
        max_attempts=3,
        connect_timeout=min(5.0, timeout),
        read_timeout=timeout,
        session_duration_seconds=900,
    )
    account = open_account_session(
        aws=aws,
        tenant=tenant,
        account_name=account_name,
        base_credentials=base_credentials,
        tuning=tuning,
        counter=CallCounter(),
        pool=1,
    )
    return account.identity_arn
