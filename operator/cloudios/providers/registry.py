"""Explicit provider registry; SDKs load lazily, so a missing extra is a clear error."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from cloudios.domain import Provider
from cloudios.providers.base import CollectRequest, CollectResult, ProviderError

Collector = Callable[[CollectRequest], CollectResult]
Prober = Callable[..., str]
"""``probe(block, *, tenant, account_name, base_credentials, timeout) -> identity``."""


# provider -> module holding its collect/probe functions, and the pip extra that brings its SDK
_PROVIDERS: dict[Provider, tuple[dict[str, str], str]] = {
    Provider.AWS: (
        {"collect": "cloudios.providers.aws.collect", "probe": "cloudios.providers.aws.auth"},
        "aws",
    ),
}


def _load(provider: Provider, function: str) -> Any:
    entry = _PROVIDERS.get(provider)
    if entry is None:
        raise ProviderError(
            "ProviderNotImplemented",
            f"provider '{provider.value}' is not supported by this version of Cloudios yet; "
            f"supported: {', '.join(p.value for p in _PROVIDERS)}",
        )
    modules, extra = entry
    try:
        module = importlib.import_module(modules[function])
    except ImportError as exc:
        raise ProviderError(
            "ProviderSdkMissing",
            f"the {provider.value} SDK is not installed ({exc.name}); install cloudios[{extra}]",
        ) from None
    return getattr(module, function)


def collector(provider: Provider) -> Collector:
    """The collect function of a provider, or a ProviderError that says what to install or use."""
    fn: Collector = _load(provider, "collect")
    return fn


def prober(provider: Provider) -> Prober:
    """The credential probe of a provider (AssumeRole + GetCallerIdentity for AWS)."""
    fn: Prober = _load(provider, "probe")
    return fn


def collect(request: CollectRequest) -> CollectResult:
    """Collect one account's snapshot with its provider."""
    return collector(request.account.provider)(request)
