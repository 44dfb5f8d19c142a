"""Explicit provider registry: one line per provider; SDKs load on first use, not here."""

from __future__ import annotations

from collections.abc import Callable

from cloudios.domain import Provider as ProviderName
from cloudios.providers.aws.provider import AwsProvider
from cloudios.providers.azure.provider import AzureProvider
from cloudios.providers.base import ObjectStore, Provider, ProviderError
from cloudios.providers.gcp.provider import GcpProvider
from cloudios.providers.kubernetes.provider import KubernetesProvider

_FACTORIES: dict[ProviderName, Callable[[], Provider]] = {
    ProviderName.AWS: AwsProvider,
    ProviderName.GCP: GcpProvider,
    ProviderName.AZURE: AzureProvider,
    ProviderName.KUBERNETES: KubernetesProvider,
}
_INSTANCES: dict[ProviderName, Provider] = {}


def supported() -> tuple[ProviderName, ...]:
    """The providers this version can scan."""
    return tuple(_FACTORIES)


def get(name: ProviderName | str) -> Provider:
    """The provider object, or a ProviderError naming the supported providers."""
    key = ProviderName(name)
    factory = _FACTORIES.get(key)
    if factory is None:
        raise ProviderError(
            "ProviderNotImplemented",
            f"provider '{key.value}' is not supported by this version of Cloudios yet; "
            f"supported: {', '.join(p.value for p in _FACTORIES)}",
        )
    found = _INSTANCES.get(key)
    if found is None:
        found = _INSTANCES[key] = factory()
    return found


def object_store(
    bucket: str, *, prefix: str, endpoint_url: str | None = None, region: str | None = None
) -> ObjectStore:
    """The S3-compatible bucket backups go to. S3's API is the de-facto standard of object stores
    (MinIO, Ceph, GCS's interoperability mode), so the AWS SDK's client serves every endpoint."""
    try:
        from cloudios.providers.aws.objectstore import S3ObjectStore  # noqa: PLC0415 - boto3 on first use
    except ImportError as exc:
        raise ProviderError(
            "ProviderSdkMissing", f"backups need the aws SDK ({exc.name}); install cloudios[aws]"
        ) from None
    return S3ObjectStore(bucket, prefix=prefix, endpoint_url=endpoint_url, region=region)
