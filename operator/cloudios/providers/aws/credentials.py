"""AWS base credentials from a CloudAccount's Secret: access key keys, or a shared-credentials file."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudios.providers.base import Credentials, ProviderError

ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"  # noqa: S105 - a key name, not a secret
SESSION_TOKEN = "aws_session_token"  # noqa: S105 - a key name, not a secret
FIELD = "spec.aws.credentialsSecretRef"


@dataclass(frozen=True)
class AwsBaseCredentials(Credentials):
    """Static base credentials resolved from a CloudAccount's credentialsSecretRef."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _text(data: Mapping[str, bytes], key: str, secret: str) -> str | None:
    raw = data.get(key)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ProviderError(
            "SecretMalformed", f"key '{key}' of Secret '{secret}' is not UTF-8 text."
        ) from None


def _from_profile(text: str, secret: str, key: str) -> dict[str, str]:
    """An AWS shared-credentials file (INI); the [default] profile or the only one."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        raise ProviderError(
            "SecretMalformed",
            f"key '{key}' of Secret '{secret}' is not an AWS credentials file ([default] profile "
            f"with {ACCESS_KEY_ID} and {SECRET_ACCESS_KEY}).",
        ) from None
    sections = parser.sections()
    section = "default" if "default" in sections else (sections[0] if len(sections) == 1 else None)
    if section is None:
        raise ProviderError(
            "SecretMalformed",
            f"key '{key}' of Secret '{secret}' has no [default] profile; add one or keep a single profile.",
        )
    return dict(parser[section])


def parse(data: Mapping[str, bytes], *, secret: str, key: str | None) -> AwsBaseCredentials:
    """Without ``key`` the Secret holds aws_access_key_id / aws_secret_access_key (/ aws_session_token);
    with it, that key holds a shared-credentials file."""
    values: Mapping[str, str | None]
    if key:
        text = _text(data, key, secret)
        if text is None:
            raise ProviderError(
                "SecretKeyMissing",
                f"Secret '{secret}' has no key '{key}' ({FIELD}.key): add it or fix the key name.",
            )
        values = _from_profile(text, secret, key)
    else:
        values = {k: _text(data, k, secret) for k in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN)}
    missing = [k for k in (ACCESS_KEY_ID, SECRET_ACCESS_KEY) if not values.get(k)]
    if missing:
        raise ProviderError(
            "SecretKeyMissing",
            f"Secret '{secret}' lacks {' and '.join(missing)}: add "
            f"{'them' if len(missing) > 1 else 'it'} (stringData works) or fix {FIELD}.",
        )
    token = values.get(SESSION_TOKEN)
    return AwsBaseCredentials(
        access_key_id=str(values[ACCESS_KEY_ID]),
        secret_access_key=str(values[SECRET_ACCESS_KEY]),
        session_token=str(token) if token else None,
    )
