"""The agent token Secret of a kubernetes CloudAccount: created once, patched on rotation, emptied on
revocation; owned by the CloudAccount, so deleting the account deletes it.

The Secret carries the id of the token it holds (annotation ``cloudios.io/token-id``, not secret), so
a re-run compares ids and never reads or rewrites a Secret that is already right. Writes go through
``sinks.kube.Kube``'s CoreV1 client (this module imports no Kubernetes client itself). The operator
needs `create` and `patch` on secrets for this (never `delete`, never `list`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudios.api.names import LABEL_ACCOUNT, label_value
from cloudios.sinks.kube import CONFLICT, NOT_FOUND, ApiError, Kube

TOKEN_KEY = "token"  # noqa: S105 - the Secret's key name
TOKEN_ID = "cloudios.io/token-id"  # noqa: S105 - an annotation name
MANAGED_BY = ("app.kubernetes.io/managed-by", "cloudios")
SUFFIX = "-agent-token"
MERGE_PATCH = "application/merge-patch+json"  # a null value removes the key
_NAME_MAX = 253


def name_for(account: str) -> str:
    """``<account>-agent-token``, shortened with a hash when the account's name is near the limit."""
    name = account + SUFFIX
    if len(name) <= _NAME_MAX:
        return name
    digest = hashlib.sha256(account.encode()).hexdigest()[:10]
    return f"{account[: _NAME_MAX - len(SUFFIX) - 11]}-{digest}{SUFFIX}"


@dataclass(frozen=True)
class SecretView:
    """What the operator needs to know of an existing Secret, without its data."""

    token_id: str | None
    ours: bool
    """Labelled as Cloudios's token Secret of this account (else it is the user's: never touched)."""


def _labels(account: str) -> dict[str, str]:
    return {MANAGED_BY[0]: MANAGED_BY[1], LABEL_ACCOUNT: label_value(account)}


def read(kube: Kube, namespace: str, name: str, *, account: str) -> SecretView | None:
    """The Secret's token id and ownership; None when there is none."""
    try:
        found = kube.core.read_namespaced_secret(name, namespace, _request_timeout=kube.timeout)
    except ApiError as exc:
        if exc.status == NOT_FOUND:
            return None
        raise
    meta = found.metadata
    labels: Mapping[str, str] = (meta.labels if meta is not None else None) or {}
    annotations: Mapping[str, str] = (meta.annotations if meta is not None else None) or {}
    ours = all(labels.get(k) == v for k, v in _labels(account).items())
    return SecretView(token_id=annotations.get(TOKEN_ID), ours=ours)


def _owner(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner.get("metadata", {})
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
    }


def _data(token: str | None) -> dict[str, str | None]:
    return {TOKEN_KEY: None if token is None else base64.b64encode(token.encode("ascii")).decode("ascii")}


def create(
    kube: Kube, namespace: str, name: str, *, owner: Mapping[str, Any], token: str, token_id: str
) -> bool:
    """Create the Secret holding ``token``; False when one of that name exists already (409)."""
    account = str(owner.get("metadata", {}).get("name"))
    body: Any = {  # the client sends a plain dict as it is
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": _labels(account),
            "annotations": {TOKEN_ID: token_id},
            "ownerReferences": [_owner(owner)],
        },
        "data": _data(token),
    }
    try:
        kube.core.create_namespaced_secret(namespace, body, _request_timeout=kube.timeout)
    except ApiError as exc:
        if exc.status == CONFLICT:
            return False
        raise
    return True


def put(
    kube: Kube, namespace: str, name: str, *, owner: Mapping[str, Any], token: str | None, token_id: str
) -> None:
    """Replace the token of our existing Secret (rotation), or remove it (``token`` None: revoked)."""
    patch = {
        "metadata": {"annotations": {TOKEN_ID: token_id}, "ownerReferences": [_owner(owner)]},
        "data": _data(token),
    }
    kube.core.patch_namespaced_secret(
        name, namespace, patch, _content_type=MERGE_PATCH, _request_timeout=kube.timeout
    )
