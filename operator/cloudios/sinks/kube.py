"""The one Kubernetes client module: blocking API access (objects, Secrets, Jobs); call it from threads."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from cloudios.api import GROUP, VERSION
from cloudios.api.names import PLURALS
from cloudios.security.redaction import redact

JSON_PATCH = "application/json-patch+json"
NOT_FOUND, FORBIDDEN, CONFLICT = 404, 403, 409
ApiError = ApiException
"""What a failed API call raises (callers catch this name, not the client's)."""


def _created(create: Callable[[], object]) -> bool:
    """Run a create call; False when the object exists already (409), other errors raise."""
    try:
        create()
    except ApiException as exc:
        if exc.status != CONFLICT:
            raise
        return False
    return True


def describe(exc: BaseException) -> str:
    """A failure in one line for logs and messages: API errors by status, others redacted."""
    if isinstance(exc, ApiException):
        return f"Kubernetes API error {exc.status} {exc.reason}"
    return redact(f"{type(exc).__name__}: {exc}")[:500]


class SecretUnreadableError(Exception):
    """A Secret that is missing (``missing``) or that the operator may not read."""

    def __init__(self, name: str, *, missing: bool) -> None:
        super().__init__(name)
        self.missing = missing


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
                {"status": redact(status)},  # status is shown to anyone who may read the object
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

    def secret_data(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, bytes]:
        """A Secret's decoded data (``get`` only); raises SecretUnreadableError when missing or forbidden."""
        try:
            secret = self.core.read_namespaced_secret(
                name, namespace, _request_timeout=timeout or self.timeout
            )
        except ApiException as exc:
            if exc.status in (NOT_FOUND, FORBIDDEN):
                raise SecretUnreadableError(name, missing=exc.status == NOT_FOUND) from None
            raise
        data: dict[str, bytes] = {}
        for key, value in (secret.data or {}).items():
            try:
                data[str(key)] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue  # the API server only stores valid base64; a stand-in may not
        return data

    def create_job(self, namespace: str, manifest: dict[str, Any]) -> bool:
        """Create a Job; False when one of that name exists already (409)."""
        batch = k8s.BatchV1Api(self.api)
        body: Any = manifest  # the client sends a plain dict as it is
        return _created(lambda: batch.create_namespaced_job(namespace, body, _request_timeout=self.timeout))

    def job_conditions(self, namespace: str, name: str) -> list[tuple[str, str, str, str]] | None:
        """(type, status, reason, message) of a Job's conditions; None when the Job is gone."""
        try:
            job = k8s.BatchV1Api(self.api).read_namespaced_job_status(
                name, namespace, _request_timeout=self.timeout
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise
        found = job.status.conditions if job.status is not None else None
        return [(c.type, c.status, c.reason or "", c.message or "") for c in found or []]

    def delete_job(self, namespace: str, name: str) -> bool:
        """Delete a Job and its pods in the background; False when it was gone."""
        try:
            k8s.BatchV1Api(self.api).delete_namespaced_job(
                name, namespace, propagation_policy="Background", _request_timeout=self.timeout
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return False
            raise
        return True

    def serves(self, group: str, version: str, plural: str) -> bool:
        """Whether the API server serves ``plural`` in ``group/version`` (a CRD is installed)."""
        try:
            resources = k8s.CustomObjectsApi(self.api).get_api_resources(
                group, version, _request_timeout=self.timeout
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return False
            raise
        return any(r.name == plural for r in (resources.resources or []))

    def create_cluster_object(self, group: str, version: str, plural: str, body: dict[str, Any]) -> bool:
        """Create a cluster-scoped custom object; False when it exists already."""
        custom = self._custom
        return _created(
            lambda: custom.create_cluster_custom_object(
                group, version, plural, body, _request_timeout=self.timeout
            )
        )

    def create_namespaced_object(
        self, group: str, version: str, namespace: str, plural: str, body: dict[str, Any]
    ) -> bool:
        """Create a namespaced custom object of any group; False when it exists already."""
        custom = self._custom
        return _created(
            lambda: custom.create_namespaced_custom_object(
                group, version, namespace, plural, body, _request_timeout=self.timeout
            )
        )

    def whoami(self) -> str | None:
        """The username our requests carry (SelfSubjectReview), or None when the server does not say."""
        review = k8s.AuthenticationV1Api(self.api).create_self_subject_review(
            k8s.V1SelfSubjectReview(), _request_timeout=self.timeout
        )
        user = review.status.user_info if review.status is not None else None
        return str(user.username) if user is not None and user.username else None

    def may(
        self,
        *,
        user: str,
        groups: list[str],
        uid: str | None,
        extra: dict[str, list[str]],
        namespace: str,
        verb: str,
        group: str,
        resource: str,
        name: str,
    ) -> tuple[bool, str]:
        """SubjectAccessReview: (allowed, reason) of ``user`` doing ``verb`` on one object."""
        spec = k8s.V1SubjectAccessReviewSpec(
            user=user,
            groups=groups or None,
            uid=uid or None,
            extra=extra or None,
            resource_attributes=k8s.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource, name=name
            ),
        )
        review = k8s.AuthorizationV1Api(self.api).create_subject_access_review(
            k8s.V1SubjectAccessReview(spec=spec), _request_timeout=self.timeout
        )
        status = review.status
        return bool(status and status.allowed), str((status and status.reason) or "")

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]
