"""kopf peering: are its CRDs installed, and does our peering object exist (kopf never creates it)?"""

from __future__ import annotations

import logging
import re

from cloudios.services.settings import OperatorSettings
from cloudios.sinks.kube import FORBIDDEN, ApiError, Kube

GROUP, VERSION = "kopf.dev", "v1"
CLUSTER_PLURAL, NAMESPACED_PLURAL = "clusterkopfpeerings", "kopfpeerings"
_LITERAL_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

log = logging.getLogger(__name__)


def available(kube: Kube, settings: OperatorSettings) -> bool:
    """Whether the peering resource for our scope is served (API discovery; no CRD read needed)."""
    if not settings.peering.name:
        return False
    return kube.serves(GROUP, VERSION, CLUSTER_PLURAL if settings.clusterwide else NAMESPACED_PLURAL)


def ensure_objects(kube: Kube, settings: OperatorSettings) -> None:
    """Create the peering object(s) if missing: without one, mandatory peering would never start."""
    assert settings.peering.name
    body = {"apiVersion": f"{GROUP}/{VERSION}", "metadata": {"name": settings.peering.name}}
    try:
        if settings.clusterwide:
            kube.create_cluster_object(GROUP, VERSION, CLUSTER_PLURAL, {**body, "kind": "ClusterKopfPeering"})
        for namespace in settings.namespaces:
            if not _LITERAL_NAMESPACE.match(namespace):
                continue  # a glob: create the KopfPeering objects with the namespaces
            kube.create_namespaced_object(
                GROUP, VERSION, namespace, NAMESPACED_PLURAL, {**body, "kind": "KopfPeering"}
            )
    except ApiError as exc:
        if exc.status == FORBIDDEN:
            log.warning(
                "may not create the peering object %r (create it with the chart or kubectl); "
                "until it exists this operator stays paused",
                settings.peering.name,
            )
            return
        raise
