"""GCP key credentials from a CloudAccount's Secret: a service-account JSON key (the fallback path).

The recommended path needs no Secret at all: Workload Identity or Workload Identity Federation
gives the operator its own identity, which impersonates the project's read-only service account
(``spec.gcp.impersonateServiceAccount``). A JSON key is parsed here, held in memory only, kept out
of ``repr`` and never logged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudios.providers.base import Credentials, ProviderError

DEFAULT_KEY = "key.json"
FIELD = "spec.gcp.serviceAccountKeySecretRef"
REQUIRED = ("type", "client_email", "private_key", "token_uri")


@dataclass(frozen=True)
class GcpKeyCredentials(Credentials):
    """A service-account key; only ``client_email`` shows in ``repr``."""

    client_email: str
    info: Mapping[str, Any] = field(repr=False)


def parse(data: Mapping[str, bytes], *, secret: str, key: str | None) -> GcpKeyCredentials:
    """The JSON key under ``key`` (default key.json); ProviderError naming the Secret and key only."""
    name = key or DEFAULT_KEY
    raw = data.get(name)
    if raw is None:
        raise ProviderError(
            "SecretKeyMissing",
            f"Secret '{secret}' has no key '{name}' ({FIELD}.key): store the service-account JSON key "
            "there, or drop the reference and use Workload Identity with impersonateServiceAccount.",
        )
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProviderError(
            "SecretMalformed", f"key '{name}' of Secret '{secret}' is not a JSON service-account key."
        ) from None
    if not isinstance(info, dict):
        raise ProviderError("SecretMalformed", f"key '{name}' of Secret '{secret}' is not a JSON object.")
    missing = [k for k in REQUIRED if not isinstance(info.get(k), str) or not info[k]]
    if missing:
        raise ProviderError(
            "SecretMalformed",
            f"key '{name}' of Secret '{secret}' lacks {', '.join(missing)}: download a new JSON key "
            "of the service account (IAM > Service accounts > Keys).",
        )
    if info["type"] != "service_account":
        raise ProviderError(
            "SecretMalformed",
            f"key '{name}' of Secret '{secret}' is a '{info['type']}' credential, not a "
            "service-account key; use Workload Identity Federation through the operator's own "
            "identity instead.",
        )
    return GcpKeyCredentials(client_email=str(info["client_email"]), info=dict(info))
