"""Admission webhooks for Recommendations: stamp who decided, enforce `approve`, audit it; status is ours."""

# API for the operator (runner.py): call register(registry, store_factory=..., operator_identities=...)
# once on the kopf.OperatorRegistry it runs. store_factory returns the audit log (SqlAuditLog) and is
# called lazily, once; operator_identities holds the operator's own username, normally
# service_account_username(namespace, name). Serve with settings.admission.server = webhook_server(...)
# (TLS 1.3, our certificate from generate_webhook_certificate or a mounted Secret), and either let
# kopf manage the webhook configurations (settings.admission.managed) or ship them in the chart.
#
# It registers two handlers for recommendations.cloudios.io, operations CREATE and UPDATE, whose ids
# are also the URL paths kopf serves (so a charted webhook configuration points at them):
# ``mutate-recommendation-decision`` sets spec.decision.decidedBy/decidedAt from the request's user;
# ``validate-recommendation-decision`` lets users change only spec.decision, requires the `approve`
# verb (SubjectAccessReview) to decide, and appends every accepted, non-dry-run decision to the audit
# log (declare it sideEffects: NoneOnDryRun). Both are persistent and fail closed: while the operator
# is down nobody decides unrecorded. A third, ``validate-recommendation-status`` on the status
# subresource (UPDATE), refuses status changes by anyone but the operator. The rules themselves are
# pure, in decision_rules.

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.api.names import PLURALS, RECOMMENDATION
from cloudios.controller import handling
from cloudios.controller.decision_rules import (
    APPROVE_VERB,
    FORBIDDEN,
    Requester,
    audit_details,
    decide_role_message,
    review,
    stamp_changes,
    status_review,
    target_of,
)
from cloudios.security import tls
from cloudios.security.audit import AuditEntry, AuditEvent
from cloudios.security.redaction import redact
from cloudios.sinks.kube import Kube
from cloudios.sinks.operations_metrics import OperationsMetrics

PLURAL = PLURALS[RECOMMENDATION]
# Handler ids are also the URL paths kopf serves (/<id>).
MUTATE_ID = "mutate-recommendation-decision"
VALIDATE_ID = "validate-recommendation-decision"
STATUS_ID = "validate-recommendation-status"
SAR_TIMEOUT_SECONDS = 10.0
UNAVAILABLE, INTERNAL = 503, 500

log = logging.getLogger(__name__)


class AuditAppender(Protocol):
    """What the validating webhook needs of the audit log (cloudios.store.audit.SqlAuditLog)."""

    def append(self, event: AuditEvent, *, skip_repeat: bool = False) -> AuditEntry: ...


@dataclass(frozen=True)
class Access:
    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    """May ``requester`` decide on recommendation ``name`` in ``namespace``?"""

    def __call__(self, requester: Requester, *, namespace: str, name: str) -> Access: ...


def service_account_username(namespace: str, name: str) -> str:
    """The username the API server gives a ServiceAccount (the operator's own identity)."""
    return f"system:serviceaccount:{namespace}:{name}"


def default_kube() -> Kube:
    """The operator's own API access: in-cluster first, then the kubeconfig."""
    return Kube.connect(pool_size=4, timeout=SAR_TIMEOUT_SECONDS)


class SubjectAccessReviewer:
    """Asks the API server (SubjectAccessReview, authorization.k8s.io/v1) whether a user holds
    `approve` on recommendations.cloudios.io; RBAC, webhook authorizers and all, answer."""

    def __init__(self, kube: Callable[[], Kube] = default_kube) -> None:
        self._factory = kube
        self._kube: Kube | None = None
        self._guard = threading.Lock()

    def _api(self) -> Kube:
        with self._guard:
            if self._kube is None:
                self._kube = self._factory()
            return self._kube

    def __call__(self, requester: Requester, *, namespace: str, name: str) -> Access:
        allowed, reason = self._api().may(
            user=requester.username,
            groups=list(requester.groups),
            uid=requester.uid,
            extra={k: list(v) for k, v in requester.extra.items()},
            namespace=namespace,
            verb=APPROVE_VERB,
            group=GROUP,
            resource=PLURAL,
            name=name,
        )
        return Access(allowed=allowed, reason=reason)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Once:
    """Calls the store factory on first use only (no database is opened at registration)."""

    def __init__(self, factory: Callable[[], AuditAppender]) -> None:
        self._factory = factory
        self._value: AuditAppender | None = None
        self._guard = threading.Lock()

    def __call__(self) -> AuditAppender:
        with self._guard:
            if self._value is None:
                self._value = self._factory()
            return self._value


def register(
    registry: kopf.OperatorRegistry,
    *,
    store_factory: Callable[[], AuditAppender],
    operator_identities: Collection[str],
    authorizer: Authorizer | None = None,
    persistent: bool = True,
    clock: Callable[[], dt.datetime] = _utcnow,
    metrics: OperationsMetrics | None = None,
) -> None:
    """Register the mutating and validating decision webhooks on ``registry`` (timed and counted in
    ``metrics``).

    ``operator_identities``: usernames that publish Recommendations (the operator's
    ServiceAccount; in tests the admin it runs as). ``authorizer``: defaults to a
    SubjectAccessReviewer with the operator's credentials. ``persistent``: keep the webhook
    configurations when the operator stops (fail closed); tests may delete them instead.
    """
    identities = frozenset(operator_identities)
    audit_log = _Once(store_factory)
    authorize: Authorizer = authorizer or SubjectAccessReviewer()

    @kopf.on.mutate(
        GROUP,
        VERSION,
        PLURAL,
        id=MUTATE_ID,
        operations=["CREATE", "UPDATE"],
        persistent=persistent,
        registry=registry,
    )
    @handling.admission(MUTATE_ID, metrics)
    def stamp_decision(
        *, userinfo: kopf.UserInfo, patch: kopf.Patch, warnings: list[str],
        old: kopf.Body | None = None, new: kopf.Body | None = None, **_: Any,
    ) -> None:  # fmt: skip
        username = Requester.from_userinfo(userinfo).username
        changes, notes = stamp_changes(_raw(old), _raw(new), username, clock())
        if changes:
            patch.setdefault("spec", {}).setdefault("decision", {}).update(changes)
        warnings.extend(notes)

    @kopf.on.validate(
        GROUP,
        VERSION,
        PLURAL,
        id=VALIDATE_ID,
        operations=["CREATE", "UPDATE"],
        persistent=persistent,
        side_effects=True,  # audit rows, never on dry-run: sideEffects NoneOnDryRun
        registry=registry,
    )
    @handling.admission(VALIDATE_ID, metrics)
    def guard_decision(
        *, userinfo: kopf.UserInfo, dryrun: bool, logger: logging.Logger | logging.LoggerAdapter[Any],
        old: kopf.Body | None = None, new: kopf.Body | None = None, operation: str | None = None, **_: Any,
    ) -> None:  # fmt: skip
        requester = Requester.from_userinfo(userinfo)
        raw_new = _raw(new)
        verdict = review(
            operation=operation,
            old=_raw(old),
            new=raw_new,
            requester=requester,
            operator_identities=identities,
            now=clock(),
        )
        if not verdict.allowed:
            raise kopf.AdmissionError(verdict.message, code=verdict.code)
        if not verdict.decides or raw_new is None:
            return
        meta = raw_new.get("metadata") or {}
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        try:
            access = authorize(requester, namespace=namespace, name=name)
        except Exception as exc:  # noqa: BLE001 - fail closed on any authorizer failure
            # No traceback (TRY400): it could carry request data.
            logger.error("SubjectAccessReview failed: %s", redact(repr(exc)))  # noqa: TRY400
            raise kopf.AdmissionError(
                "could not check your permission to decide; try again", code=UNAVAILABLE
            ) from None
        if not access.allowed:
            raise kopf.AdmissionError(decide_role_message(namespace), code=FORBIDDEN)
        if dryrun:
            return
        event = AuditEvent(
            tenant=namespace,
            actor=requester.username,
            action=verdict.action,
            target=target_of(raw_new),
            details=audit_details(raw_new),
        )
        try:
            entry = audit_log().append(event, skip_repeat=True)
        except Exception as exc:  # noqa: BLE001 - no decision without its audit entry
            logger.error("audit append failed: %s", redact(repr(exc)))  # noqa: TRY400
            raise kopf.AdmissionError(
                "the decision could not be recorded in the audit log, so it was not accepted; try again",
                code=INTERNAL,
            ) from None
        # Not who: a username is personal data, and the audit entry (seq) already holds it.
        logger.info("%s recorded as audit seq %d", verdict.action, entry.seq)

    _register_status_guard(registry, identities, persistent=persistent, metrics=metrics)


def _register_status_guard(
    registry: kopf.OperatorRegistry,
    identities: frozenset[str],
    *,
    persistent: bool,
    metrics: OperationsMetrics | None,
) -> None:
    """Only the operator writes recommendations/status (kopf: the status subresource, UPDATE)."""

    @kopf.on.validate(
        GROUP,
        VERSION,
        PLURAL,
        id=STATUS_ID,
        operations=["UPDATE"],
        subresource="status",
        persistent=persistent,
        registry=registry,
    )
    @handling.admission(STATUS_ID, metrics)
    def guard_status(
        *, userinfo: kopf.UserInfo, old: kopf.Body | None = None, new: kopf.Body | None = None, **_: Any
    ) -> None:
        verdict = status_review(
            old=_raw(old),
            new=_raw(new),
            requester=Requester.from_userinfo(userinfo),
            operator_identities=identities,
        )
        if not verdict.allowed:
            raise kopf.AdmissionError(verdict.message, code=verdict.code)


def _raw(body: kopf.Body | None) -> dict[str, Any] | None:
    return None if body is None else dict(body)


# ------------------------------------------------------------------------------------ serving


WebhookCertificate = tls.CertificateFiles
generate_webhook_certificate = tls.generate_certificate


def webhook_server(
    *,
    certfile: str | Path,
    pkeyfile: str | Path,
    cafile: str | Path,
    addr: str = "0.0.0.0",  # noqa: S104 - in a pod the Service reaches it on the pod IP
    port: int = 9443,
    host: str | None = None,
) -> kopf.WebhookServer:
    """kopf's HTTPS webhook server, TLS 1.3 only, with our certificate; re-read when the files change."""
    context = tls.server_context()
    return kopf.WebhookServer(
        addr=addr, port=port, host=host, certfile=certfile, pkeyfile=pkeyfile, cafile=cafile, context=context
    )
