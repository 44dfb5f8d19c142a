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


@dataclass(frozen=True)
class Reviewer:
    """An authenticated requester as the API server's TokenReview names it."""

    username: str
    groups: tuple[str, ...]
    uid: str
    extra: dict[str, list[str]]


class StaleObjectError(Exception):
    """A write lost a race: the object was created or changed by someone else meanwhile (409)."""


class SecretUnreadableError(Exception):
    """A Secret that is missing (``missing``) or that the operator may not read."""

    def __init__(self, name: str, *, missing: bool) -> None:
        super().__init__(name)
        self.missing = missing


def load_configuration(pool_size: int, kubeconfig: str | None = None) -> k8s.Configuration:
    """The pod's service account in a cluster, else ``kubeconfig``, $KUBECONFIG or ~/.kube/config."""
    configuration = k8s.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG") and not kubeconfig:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = max(pool_size, 4)
    return configuration


@dataclass
class Kube:
    """Thin wrapper: namespaced custom objects of the cloudios.io group, and Secrets."""

    api: k8s.ApiClient
    timeout: float = 30.0

    @classmethod
    def connect(cls, *, pool_size: int, timeout: float, kubeconfig: str | None = None) -> Kube:
        return cls(k8s.ApiClient(load_configuration(pool_size, kubeconfig)), timeout)

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

    def config_map(self, namespace: str, name: str) -> tuple[dict[str, str], str] | None:
        """A ConfigMap's data and resourceVersion; None when there is none."""
        try:
            found = self.core.read_namespaced_config_map(name, namespace, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise
        meta = found.metadata
        return dict(found.data or {}), str(meta.resource_version if meta is not None else "")

    def write_config_map(
        self,
        namespace: str,
        name: str,
        data: dict[str, str],
        *,
        resource_version: str | None,
        labels: dict[str, str],
    ) -> None:
        """Create (``resource_version`` None) or replace exactly that version; StaleObjectError on a race."""
        body = k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name=name, labels=labels, resource_version=resource_version),
            data=data,
        )
        try:
            if resource_version is None:
                self.core.create_namespaced_config_map(namespace, body, _request_timeout=self.timeout)
            else:
                self.core.replace_namespaced_config_map(name, namespace, body, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status == CONFLICT:
                raise StaleObjectError(f"ConfigMap {namespace}/{name} changed meanwhile") from None
            raise

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

    def _scoped(self, verb: str, namespace: str | None) -> Callable[..., Any]:
        """``<verb>_cluster_custom_object``, or ``<verb>_namespaced_custom_object`` in ``namespace``."""
        if namespace is None:
            return cast("Callable[..., Any]", getattr(self._custom, f"{verb}_cluster_custom_object"))
        method = getattr(self._custom, f"{verb}_namespaced_custom_object")
        return lambda group, version, *rest, **kw: method(group, version, namespace, *rest, **kw)

    def create_object(
        self, group: str, version: str, plural: str, body: dict[str, Any], *, namespace: str | None = None
    ) -> bool:
        """Create a custom object of any group (cluster-scoped without ``namespace``); False when it
        exists already."""
        create = self._scoped("create", namespace)
        return _created(lambda: create(group, version, plural, body, _request_timeout=self.timeout))

    def get_object(
        self, group: str, version: str, plural: str, name: str, *, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """A custom object of any group (cluster-scoped without ``namespace``); None when missing."""
        try:
            found = self._scoped("get", namespace)(
                group, version, plural, name, _request_timeout=self.timeout
            )
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise
        return cast("dict[str, Any]", found)

    def patch_object(
        self,
        group: str,
        version: str,
        plural: str,
        name: str,
        body: dict[str, Any],
        *,
        namespace: str | None = None,
    ) -> None:
        """Merge-patch a custom object of any group (cluster-scoped without ``namespace``)."""
        self._scoped("patch", namespace)(group, version, plural, name, body, _request_timeout=self.timeout)

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

    def grant_secret_read(
        self, namespace: str, name: str, *, secret: str, subject: tuple[str, str], labels: dict[str, str]
    ) -> None:
        """A Role allowing `get` on one Secret by name, bound to the ServiceAccount ``subject``
        (namespace, name); idempotent (an existing grant of that name is kept)."""
        rbac = k8s.RbacAuthorizationV1Api(self.api)
        meta = k8s.V1ObjectMeta(name=name, namespace=namespace, labels=labels)
        role = k8s.V1Role(
            metadata=meta,
            rules=[
                k8s.V1PolicyRule(
                    api_groups=[""], resources=["secrets"], resource_names=[secret], verbs=["get"]
                )
            ],
        )
        binding = k8s.V1RoleBinding(
            metadata=meta,
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
            subjects=[k8s.RbacV1Subject(kind="ServiceAccount", namespace=subject[0], name=subject[1])],
        )
        _created(lambda: rbac.create_namespaced_role(namespace, role, _request_timeout=self.timeout))
        _created(
            lambda: rbac.create_namespaced_role_binding(namespace, binding, _request_timeout=self.timeout)
        )

    def grants(self, namespace: str, label_selector: str) -> list[str]:
        """Names of the secret-read grants (Roles) matching ``label_selector``."""
        found = k8s.RbacAuthorizationV1Api(self.api).list_namespaced_role(
            namespace, label_selector=label_selector, _request_timeout=self.timeout
        )
        return [str(r.metadata.name) for r in found.items if r.metadata is not None]

    def revoke_grant(self, namespace: str, name: str) -> None:
        """Delete a grant's RoleBinding and Role; gone already is fine."""
        rbac = k8s.RbacAuthorizationV1Api(self.api)
        for delete in (rbac.delete_namespaced_role_binding, rbac.delete_namespaced_role):
            try:
                delete(name, namespace, _request_timeout=self.timeout)
            except ApiException as exc:
                if exc.status != NOT_FOUND:
                    raise

    def review_token(self, token: str) -> Reviewer | None:
        """TokenReview: who a bearer token belongs to, or None when the API server does not accept it."""
        review = k8s.AuthenticationV1Api(self.api).create_token_review(
            k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token=token)), _request_timeout=self.timeout
        )
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            return None
        user = status.user
        extra = {str(k): [str(v) for v in values] for k, values in (user.extra or {}).items()}
        return Reviewer(str(user.username or ""), tuple(user.groups or ()), str(user.uid or ""), extra)

    def may_on_resource(self, who: Reviewer, *, namespace: str, verb: str, resource: str) -> bool:
        """SubjectAccessReview: may ``who`` do ``verb`` (e.g. the custom `export`) on a cloudios.io
        ``resource`` in ``namespace``?"""
        allowed, _reason = self.may(
            user=who.username,
            groups=list(who.groups),
            uid=who.uid,
            extra=dict(who.extra),
            namespace=namespace,
            verb=verb,
            group=GROUP,
            resource=resource,
            name="",
        )
        return allowed

    def may_get_path(self, who: Reviewer, path: str, verb: str = "get") -> bool:
        """SubjectAccessReview on a non-resource URL (e.g. get /metrics)."""
        spec = k8s.V1SubjectAccessReviewSpec(
            user=who.username,
            groups=list(who.groups) or None,
            uid=who.uid or None,
            extra=dict(who.extra) or None,
            non_resource_attributes=k8s.V1NonResourceAttributes(path=path, verb=verb),
        )
        review = k8s.AuthorizationV1Api(self.api).create_subject_access_review(
            k8s.V1SubjectAccessReview(spec=spec), _request_timeout=self.timeout
        )
        return bool(review.status and review.status.allowed)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]
