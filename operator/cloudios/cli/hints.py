"""What the CLI says when an account cannot be scanned: its own credential chain, not the operator's."""

from __future__ import annotations

import re

from cloudios.cli.commands import EXIT_INPUT, EXIT_UNSCANNED

# A provider's message ends with the operator's remedy (a Secret, the operator's identity) after
# "; " or ": set|run|give": wrong advice for someone running the CLI, so it is replaced.
_OPERATOR_REMEDY = re.compile(r"; |: (?:set|run|give) ")

CREDENTIAL_REASONS = frozenset(
    {"NoBaseCredentials", "CredentialsInvalid", "CredentialsMissing", "NoAzureIdentity", "ProfileNotFound"}
)
"""Failures of the CLI user's own identity: the message gets the CLI's credential hint."""

INPUT_REASONS = frozenset({"UnknownRegion", "InvalidAccount"})
"""Failures that the manifest itself causes: bad input (exit 2), not an unscannable account."""

CHAINS = {
    "aws": "the CLI takes base credentials from the standard AWS chain: AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), --profile NAME or AWS_PROFILE from ~/.aws/config "
    "and ~/.aws/credentials, an SSO profile after `aws sso login --profile NAME`, or an instance or "
    "container role; it then assumes spec.aws.roleArn (spec.aws.credentialsSecretRef is read only in "
    "a cluster). `aws sts get-caller-identity` shows which identity the chain finds",
    "gcp": "the CLI uses Application Default Credentials: `gcloud auth application-default login`, "
    "GOOGLE_APPLICATION_CREDENTIALS (a key or a Workload Identity Federation file) or the metadata "
    "server, then impersonates spec.gcp.impersonateServiceAccount if set "
    "(spec.gcp.serviceAccountKeySecretRef is read only in a cluster)",
    "azure": "the CLI uses workload identity (AZURE_FEDERATED_TOKEN_FILE with AZURE_CLIENT_ID and "
    "AZURE_TENANT_ID) or the managed identity named by spec.azure.clientId "
    "(spec.azure.clientSecretSecretRef is read only in a cluster)",
}


def message(provider: str, reason: str, text: str) -> str:
    """The provider's message for a CLI user: credential failures end with the CLI's own chain."""
    chain = CHAINS.get(provider)
    if reason not in CREDENTIAL_REASONS or chain is None:
        return text
    what = _OPERATOR_REMEDY.split(text, maxsplit=1)[0].rstrip(". ")
    return f"{what}; hint: {chain}"


def exit_code(reasons: set[str]) -> int:
    """Exit 2 when an account failed on its manifest (fix that first), else 3 (it could not be scanned)."""
    return EXIT_INPUT if reasons & INPUT_REASONS else EXIT_UNSCANNED
