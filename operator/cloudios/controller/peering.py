"""kopf peering: are its CRDs installed, and does our peering object exist (kopf never creates it)?"""

from __future__ import annotations

import logging
import re

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from cloudios.controller.kube import CONFLICT, NOT_FOUND, Kube
from cloudios.controller.settings import ControllerSettings

GROUP, VERSION = "kopf.dev", "v1"
CLUSTER_PLURAL, NAMESPACED_PLURAL = "clusterkopfpeerings", "kopfpeerings"
FORBIDDEN = 403
_LITERAL_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

log = logging.getLogger(__name__)


def available(kube: Kube, settings: ControllerSettings) -> bool:
    """Whether the peering resource for our scope is served (API discovery; no CRD read needed)."""
    if not settings.peering_name:
        return False
    plural = CLUSTER_PLURAL if settings.clusterwide else NAMESPACED_PLURAL
    try:
        resources = k8s.CustomObjectsApi(kube.api).get_api_resources(
            GROUP, VERSION, _request_timeout=kube.timeout
        )
    except ApiException as exc:
        if exc.status == NOT_FOUND:
            return False
        raise
    return any(r.name == plural for r in resources.resources or [])


def ensure_objects(kube: Kube, settings: ControllerSettings) -> None:
    """Create the peering object(s) if missing: without one, mandatory peering would never start."""
    assert settings.peering_name
    custom = k8s.CustomObjectsApi(kube.api)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "metadata": {"name": settings.peering_name}}
    try:
        if settings.clusterwide:
            custom.create_cluster_custom_object(
                GROUP, VERSION, CLUSTER_PLURAL, {**body, "kind": "ClusterKopfPeering"},
                _request_timeout=kube.timeout,
            )  # fmt: skip
        for namespace in settings.namespaces:
            if not _LITERAL_NAMESPACE.match(namespace):
                continue  # a glob: create the KopfPeering objects with the namespaces
            try:
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, NAMESPACED_PLURAL, {**body, "kind": "KopfPeering"},
                    _request_timeout=kube.timeout,
                )  # fmt: skip
            except ApiException as exc:
                if exc.status != CONFLICT:
                    raise
    except ApiException as exc:
        if exc.status == CONFLICT:
            return
        if exc.status == FORBIDDEN:
            log.warning(
                "may not create the peering object %r (create it with the chart or kubectl); "
                "until it exists this operator stays paused",
                settings.peering_name,
            )
            return
        raise
