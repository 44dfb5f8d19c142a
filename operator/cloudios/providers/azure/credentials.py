"""Azure credentials from a CloudAccount's Secret: a service principal's client secret (the fallback path)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudios.providers.base import Credentials, ProviderError

CLIENT_SECRET = "clientSecret"  # noqa: S105 - a key name, not a secret
FIELD = "spec.azure.clientSecretSecretRef"


@dataclass(frozen=True)
class AzureClientSecret(Credentials):
    """A service principal's client secret; the tenant and client IDs come from the CloudAccount."""

    value: str = field(repr=False)


def parse(data: Mapping[str, bytes], *, secret: str, key: str | None) -> AzureClientSecret:
    """The Secret's ``clientSecret`` key (or ``key``), as UTF-8 text."""
    name = key or CLIENT_SECRET
    raw = data.get(name)
    if raw is None:
        raise ProviderError(
            "SecretKeyMissing",
            f"Secret '{secret}' has no key '{name}': add the service principal's client secret under "
            f"it (stringData works) or set {FIELD}.key.",
        )
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ProviderError(
            "SecretMalformed", f"key '{name}' of Secret '{secret}' is not UTF-8 text."
        ) from None
    if not value:
        raise ProviderError("SecretMalformed", f"key '{name}' of Secret '{secret}' is empty.")
    return AzureClientSecret(value=value)
