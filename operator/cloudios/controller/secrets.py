"""Referenced Secrets into base credentials (kubernetes client, `get` only); values are never logged."""

from __future__ import annotations

import base64
import binascii
import configparser
from typing import Any

from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from cloudios.api import CloudAccountSpec, SecretKeyRef
from cloudios.providers.base import AwsBaseCredentials

ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"  # noqa: S105 - a key name, not a secret
SESSION_TOKEN = "aws_session_token"  # noqa: S105 - a key name, not a secret
NOT_FOUND, FORBIDDEN = 404, 403


class SecretError(Exception):
    """A referenced Secret that cannot be used; reason is CamelCase, message says what to fix.

    Messages name the Secret and key, never a value.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _read(core: CoreV1Api, namespace: str, name: str, timeout: float) -> dict[str, str]:
    try:
        secret = core.read_namespaced_secret(name, namespace, _request_timeout=timeout)
    except ApiException as exc:
        if exc.status == NOT_FOUND:
            raise SecretError(
                "SecretNotFound",
                f"Secret '{name}' (spec.aws.credentialsSecretRef) does not exist in namespace "
                f"'{namespace}': create it with keys {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}, or fix "
                "the reference.",
            ) from None
        if exc.status == FORBIDDEN:
            raise SecretError(
                "SecretForbidden",
                f"the operator may not read Secret '{name}' in namespace '{namespace}': grant it "
                "`get` on secrets there (the Helm chart's RBAC does this for watched namespaces).",
            ) from None
        raise
    return {str(k): str(v) for k, v in (secret.data or {}).items()}


def _decode(data: dict[str, str], key: str, name: str) -> str | None:
    raw = data.get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError):
        raise SecretError(
            "SecretMalformed", f"key '{key}' of Secret '{name}' is not valid base64-encoded UTF-8 text."
        ) from None


def _from_profile(text: str, name: str, key: str) -> dict[str, str]:
    """An AWS shared-credentials file (INI); the [default] profile or the only one."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        raise SecretError(
            "SecretMalformed",
            f"key '{key}' of Secret '{name}' is not an AWS credentials file ([default] profile "
            f"with {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}).",
        ) from None
    sections = parser.sections()
    section = "default" if "default" in sections else (sections[0] if len(sections) == 1 else None)
    if section is None:
        raise SecretError(
            "SecretMalformed",
            f"key '{key}' of Secret '{name}' has no [default] profile; add one or keep a single profile.",
        )
    return dict(parser[section])


def aws_credentials(
    core: CoreV1Api, namespace: str, ref: SecretKeyRef | None, *, timeout: float = 10.0
) -> AwsBaseCredentials | None:
    """Base credentials from ``ref``; None without a reference (the operator's own identity).

    Without ``ref.key`` the Secret holds aws_access_key_id / aws_secret_access_key
    (/ aws_session_token); with it, that key holds a shared-credentials file.
    """
    if ref is None:
        return None
    data = _read(core, namespace, ref.name, timeout)
    values: dict[str, Any]
    if ref.key:
        text = _decode(data, ref.key, ref.name)
        if text is None:
            raise SecretError(
                "SecretKeyMissing",
                f"Secret '{ref.name}' in namespace '{namespace}' has no key '{ref.key}' "
                "(spec.aws.credentialsSecretRef.key): add it or fix the key name.",
            )
        values = _from_profile(text, ref.name, ref.key)
    else:
        values = {k: _decode(data, k, ref.name) for k in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN)}
    missing = [k for k in (ACCESS_KEY_ID, SECRET_ACCESS_KEY) if not values.get(k)]
    if missing:
        raise SecretError(
            "SecretKeyMissing",
            f"Secret '{ref.name}' in namespace '{namespace}' lacks {' and '.join(missing)}: add "
            f"{'them' if len(missing) > 1 else 'it'} (stringData works) or fix "
            "spec.aws.credentialsSecretRef.",
        )
    return AwsBaseCredentials(
        access_key_id=str(values[ACCESS_KEY_ID]),
        secret_access_key=str(values[SECRET_ACCESS_KEY]),
        session_token=str(values[SESSION_TOKEN]) if values.get(SESSION_TOKEN) else None,
    )


def base_credentials(
    core: CoreV1Api, namespace: str, spec: CloudAccountSpec, *, timeout: float = 10.0
) -> AwsBaseCredentials | None:
    """The account's base credentials for its provider (AWS only so far; others: None)."""
    if spec.aws is not None:
        return aws_credentials(core, namespace, spec.aws.credentials_secret_ref, timeout=timeout)
    return None
