"""Explicit provider registry; SDKs load lazily, so a missing extra is a clear error."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from cloudios.domain import Provider
from cloudios.providers.base import CollectRequest, CollectResult, ProviderError

Collector = Callable[[CollectRequest], CollectResult]

# provider -> (module path, function name, pip extra that brings its SDK)
_COLLECTORS: dict[Provider, tuple[str, str, str]] = {
    Provider.AWS: ("cloudios.providers.aws.collect", "collect", "aws"),
}


def collector(provider: Provider) -> Collector:
    """The collect function of a provider, or a ProviderError that says what to install or use."""
    entry = _COLLECTORS.get(provider)
    if entry is None:
        raise ProviderError(
            "ProviderNotImplemented",
            f"provider '{provider.value}' is not supported by this version of Cloudios yet; "
            f"supported: {', '.join(p.value for p in _COLLECTORS)}",
        )
    module_path, name, extra = entry
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise ProviderError(
            "ProviderSdkMissing",
            f"the {provider.value} SDK is not installed ({exc.name}); install cloudios[{extra}]",
        ) from None
    fn: Collector = getattr(module, name)
    return fn


def collect(request: CollectRequest) -> CollectResult:
    """Collect one account's snapshot with its provider."""
    return collector(request.account.provider)(request)
