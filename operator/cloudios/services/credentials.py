"""A CloudAccount's referenced Secret, read through the Kube client and parsed by the account's provider."""

from __future__ import annotations

from cloudios.api import CloudAccountSpec
from cloudios.providers import registry
from cloudios.providers.base import Credentials, ProviderError
from cloudios.sinks.kube import Kube, SecretUnreadableError


def resolve(kube: Kube, namespace: str, spec: CloudAccountSpec, *, timeout: float) -> Credentials | None:
    """The account's credentials; None without a reference (the operator's own identity).

    Raises ProviderError (SecretNotFound, SecretForbidden, SecretKeyMissing, SecretMalformed) whose
    message names the Secret, the field and the fix, never a value.
    """
    found = spec.secret_ref()
    if found is None:
        return None
    field, ref = found
    provider = registry.get(spec.provider)
    try:
        data = kube.secret_data(namespace, ref.name, timeout=timeout)
    except SecretUnreadableError as exc:
        if exc.missing:
            raise ProviderError(
                "SecretNotFound",
                f"Secret '{ref.name}' ({field}) does not exist in namespace '{namespace}': create it "
                f"with {provider.secret_format}, or fix the reference.",
            ) from None
        raise ProviderError(
            "SecretForbidden",
            f"the operator may not read Secret '{ref.name}' in namespace '{namespace}': grant it "
            "`get` on secrets there (the Helm chart's RBAC does this for watched namespaces).",
        ) from None
    try:
        return provider.credentials(data, secret=ref.name, key=ref.key)
    except ProviderError as exc:
        raise ProviderError(exc.reason, f"{exc.message} (namespace '{namespace}', {field})") from None
