"""Whether a ScanPolicy's verifier may ask: tenant consent, endpoint, API key and pseudonym key.

The API key is read from the referenced Secret and kept only through the keyring (the store's
put_secret); requests take it back from there. The pseudonym key is 32 random bytes per tenant,
also kept in the keyring, so pseudonyms stay stable across restarts and differ between tenants.
Every refusal names the field and the fix, never a secret.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Protocol

from cloudios.api import ScanPolicy
from cloudios.api.verifier import VerifierSpec
from cloudios.security import keyring, urls
from cloudios.services import tenant_preferences
from cloudios.services.settings_verifier import VerifierSettings
from cloudios.sinks.conditions import Observation
from cloudios.sinks.kube import Kube, SecretUnreadableError

VERIFIER_READY = "VerifierReady"
DEFAULT_KEY = "apiKey"
PSEUDONYM_KEY = "verifier/pseudonym-key"
KEY_MAX = 4096
# Two policies of one tenant may run at once: one of them creates the tenant's pseudonym key.
_PSEUDONYM_KEY_LOCK = threading.Lock()


class SecretsPort(Protocol):
    """The store's encrypted secrets (security.keyring under the tenant's data key)."""

    def put_secret(self, tenant: str, name: str, plaintext: bytes) -> None: ...
    def get_secret(self, tenant: str, name: str) -> bytes | None: ...


def api_key_name(policy: str) -> str:
    """The store's name of a policy's verifier API key (encrypted, bound to tenant and name)."""
    return f"verifier/{policy}/api-key"


@dataclass(frozen=True)
class Ready:
    """What asking needs: the spec, the key from the keyring and the tenant's pseudonym key."""

    spec: VerifierSpec
    api_key: str
    pseudonym_key: bytes
    allow_private: bool


def _not_ready(reason: str, message: str) -> Observation:
    return Observation(VERIFIER_READY, "False", reason, message)


def check(  # noqa: PLR0911 - one refusal per rule, in the order a user fixes them
    settings: VerifierSettings, kube: Kube, store: SecretsPort, policy: ScanPolicy
) -> Ready | Observation:
    """Ready to ask, or the VerifierReady=False observation saying why not (blocking: Secrets, store)."""
    spec = policy.spec.verifier
    namespace = policy.metadata.namespace
    if spec is None:
        return _not_ready("NotConfigured", "spec.verifier is not set; nothing is sent.")
    if not tenant_preferences.read(kube, namespace).ai_verifier:
        return _not_ready(
            "TenantOptedOut",
            f"the ConfigMap {tenant_preferences.CONFIGMAP} of namespace {namespace} objects to the AI "
            "verifier (aiVerifier: optOut), or cannot be read; nothing is sent.",
        )
    allow_private = settings.allows_private(namespace)
    problem = urls.webhook_url_problem(spec.endpoint, allow_private=allow_private)
    if problem is not None:
        return _not_ready(
            "EndpointRefused",
            f"spec.verifier.endpoint is refused: {problem}; use a public https:// endpoint (private ranges "
            "only where the operator allows them: CLOUDIOS_VERIFIER_ALLOW_PRIVATE_NAMESPACES).",
        )
    ref = spec.secret_ref
    key = ref.key or DEFAULT_KEY
    where = "spec.verifier.secretRef"
    try:
        data = kube.secret_data(namespace, ref.name)
    except SecretUnreadableError as exc:
        what = "does not exist" if exc.missing else "cannot be read by the operator (RBAC)"
        return _not_ready("SecretUnusable", f"{where}: Secret '{ref.name}' {what}; create it in {namespace}.")
    value = data.get(key, b"").strip()
    if not value or len(value) > KEY_MAX or not value.isascii() or any(c < 0x21 for c in value):  # noqa: PLR2004
        what = "has no key" if key not in data else "holds no usable API key (printable ASCII) under"
        return _not_ready(
            "SecretUnusable", f"{where}: Secret '{ref.name}' {what} '{key}'; put the API key there."
        )
    try:
        name = api_key_name(policy.metadata.name)
        stored = store.get_secret(namespace, name)
        if stored is None or not hmac.compare_digest(stored, value):
            store.put_secret(namespace, name, value)
            stored = store.get_secret(namespace, name)
        with _PSEUDONYM_KEY_LOCK:
            pseudonym_key = store.get_secret(namespace, PSEUDONYM_KEY)
            if pseudonym_key is None:
                store.put_secret(namespace, PSEUDONYM_KEY, secrets.token_bytes(32))
                pseudonym_key = store.get_secret(namespace, PSEUDONYM_KEY)
    except keyring.KeyringError as exc:
        return _not_ready("KeyringUnavailable", f"the API key cannot be kept encrypted: {exc}")
    if stored is None or pseudonym_key is None:
        return _not_ready("KeyringUnavailable", "the store lost the API key or the pseudonym key; retrying.")
    return Ready(spec, stored.decode("ascii"), pseudonym_key, allow_private)
