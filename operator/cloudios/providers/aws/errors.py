"""botocore exceptions to ProviderError: a CamelCase reason, what failed, and what to fix."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from cloudios.providers.base import ProviderError
from cloudios.security.redaction import redact

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
    }
)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
BAD_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidAccessKeyId",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or "")


def translate(exc: Exception, *, operation: str, where: str) -> ProviderError:
    """A ProviderError for ``exc`` raised by ``operation`` ('ec2:DescribeVolumes') in ``where``."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ClientError):
        return _client_error(exc, operation=operation, where=where)
    if isinstance(exc, NoCredentialsError):
        return ProviderError(
            "NoBaseCredentials",
            f"no AWS credentials were found for {operation}: set spec.aws.credentialsSecretRef or "
            "give the operator an AWS identity (IRSA, EKS Pod Identity, instance profile).",
        )
    if isinstance(exc, ProfileNotFound):
        profile = exc.kwargs.get("profile", "?")
        return ProviderError(
            "ProfileNotFound",
            f"the AWS profile '{profile}' (AWS_PROFILE) is not in the shared config or credentials "
            "file: name a profile that `aws configure list-profiles` shows.",
        )
    if isinstance(
        exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError
    ):
        return ProviderError(
            "EndpointUnreachable",
            f"could not reach the AWS endpoint for {operation} in {where} "
            f"({type(exc).__name__}); check network egress, proxies and AWS_ENDPOINT_URL.",
        )
    if isinstance(exc, BotoCoreError):
        return ProviderError("AwsClientError", f"{operation} failed in {where}: {type(exc).__name__}")
    raise exc


def _client_error(exc: ClientError, *, operation: str, where: str) -> ProviderError:
    """An AWS API error answer: throttled, denied, refused credentials, region off, or other."""
    code = error_code(exc)
    # AWS messages can echo request details (key ids, tokens): through the one redaction path.
    detail = redact(str(exc.response.get("Error", {}).get("Message", "") or ""))[:300]
    if code in THROTTLING_CODES:
        return ProviderError(
            "Throttled",
            f"AWS kept throttling {operation} in {where} after all retries; the scan stopped "
            "rather than report partial results. Run it again later, lower maxConcurrency, "
            "or raise the account's API quota.",
        )
    if code in DENIED_CODES:
        return ProviderError(
            "PermissionDenied",
            f"{operation} was denied in {where} ({code}): add {operation} to the read-only "
            "role's policy (docs/providers/aws.md lists them) or disable the modules that "
            f"need it. AWS said: {detail}",
        )
    if code in BAD_CREDENTIAL_CODES:
        return ProviderError(
            "CredentialsInvalid",
            f"{operation} in {where} was refused with {code}: the credentials are invalid or "
            "expired; check the credentials Secret or the operator's own identity.",
        )
    if code == "OptInRequired":
        return ProviderError(
            "RegionNotEnabled",
            f"{where} is not enabled for this account ({operation}): enable the region or "
            "remove it from spec.aws.regions.",
        )
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    return ProviderError(
        "AwsApiError",
        f"{operation} failed in {where} with {code or 'no error code'} (HTTP {status}) "
        f"after all retries: {detail}",
    )
