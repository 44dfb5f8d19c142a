"""Blocking Kubernetes API access for services (custom objects, Secrets); call it from worker threads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from cloudios.api import GROUP, VERSION

PLURALS = {"CloudAccount": "cloudaccounts", "ScanPolicy": "scanpolicies", "Recommendation": "recommendations"}
JSON_PATCH = "application/json-patch+json"
NOT_FOUND, CONFLICT = 404, 409


def load_configuration(pool_size: int) -> k8s.Configuration:
    """In-cluster service account when running in a pod, else $KUBECONFIG / ~/.kube/config."""
    configuration = k8s.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        k8s_config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = max(pool_size, 4)
    return configuration


@dataclass
class Kube:
    """Thin wrapper: namespaced custom objects of the cloudios.io group, and Secrets."""

    api: k8s.ApiClient
    timeout: float = 30.0

    @classmethod
    def connect(cls, *, pool_size: int, timeout: float) -> Kube:
        return cls(k8s.ApiClient(load_configuration(pool_size)), timeout)

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)

    @property
    def _custom(self) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURALS[kind], name, _request_timeout=self.timeout
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise
        return cast("dict[str, Any]", obj)

    def items(self, kind: str, namespace: str, *, label_selector: str | None = None) -> list[dict[str, Any]]:
        result = self._custom.list_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURALS[kind],
            label_selector=label_selector,
            _request_timeout=self.timeout,
        )
        return list(cast("dict[str, Any]", result).get("items", []))

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create; raises ApiException (409 when the name is taken)."""
        obj = self._custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURALS[kind], body, _request_timeout=self.timeout
        )
        return cast("dict[str, Any]", obj)

    def patch(
        self, kind: str, namespace: str, name: str, body: dict[str, Any] | list[dict[str, Any]]
    ) -> None:
        """Merge patch (a dict) or JSON patch (a list of operations) of the main resource."""
        self._custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURALS[kind],
            name,
            body,
            _content_type=JSON_PATCH if isinstance(body, list) else None,
            _request_timeout=self.timeout,
        )

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> bool:
        """Merge-patch the status subresource; False when the object is gone."""
        try:
            self._custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                PLURALS[kind],
                name,
                {"status": status},
                _request_timeout=self.timeout,
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return False
            raise
        return True

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        try:
            self._custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURALS[kind], name, _request_timeout=self.timeout
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return False
            raise
        return True

    def delete_labelled(self, kind: str, namespace: str, label_selector: str) -> int:
        """Delete every object matching ``label_selector``; returns how many there were."""
        items = self.items(kind, namespace, label_selector=label_selector)
        for item in items:
            self.delete(kind, namespace, item["metadata"]["name"])
        return len(items)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]
