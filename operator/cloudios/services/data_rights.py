"""A tenant's data rights: export its whole data, erase it; every call is audited with caller and source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from cloudios.api.names import RECOMMENDATION
from cloudios.security.audit import AuditEntry, AuditEvent
from cloudios.store.data_rights import EXPORT_SCHEMA, ErasureCounts

Operation = Literal["export", "erase"]
OPERATIONS: tuple[Operation, ...] = ("export", "erase")
ACTIONS = {"export": "data.exported", "erase": "data.erased"}
DENIED = {"export": "data.export_denied", "erase": "data.erase_denied"}


class RightsStore(Protocol):
    """The store's side (store.sql.SqlRepository)."""

    def export_tenant(self, tenant: str, *, now: datetime) -> dict[str, Any]: ...

    def erase_tenant(self, tenant: str) -> ErasureCounts: ...


class Appender(Protocol):
    """Where audit entries go (services.audit.AuditTrail, or store.audit.SqlAuditLog for the CLI)."""

    def append(self, event: AuditEvent, *, skip_repeat: bool = False) -> AuditEntry: ...


class RecommendationObjects(Protocol):
    """The cluster's side (sinks.kube.Kube)."""

    def delete_labelled(self, kind: str, namespace: str, label_selector: str) -> int: ...


def in_cluster(store: RightsStore, audit: Appender, kube: RecommendationObjects) -> DataRights:
    """The operator's data rights: erasure also deletes the namespace's Recommendation objects."""
    return DataRights(
        store=store,
        audit=audit,
        delete_recommendations=lambda namespace: kube.delete_labelled(RECOMMENDATION, namespace, ""),
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DataRights:
    """Export and erasure of one tenant (namespace), audited.

    ``delete_recommendations`` deletes the namespace's Recommendation objects (the operator passes
    the Kube client's; the local CLI has no cluster and passes None).
    """

    store: RightsStore
    audit: Appender
    delete_recommendations: Callable[[str], int] | None = None
    clock: Callable[[], datetime] = _utcnow

    def _record(self, tenant: str, action: str, caller: str, source: str, **details: Any) -> AuditEntry:
        return self.audit.append(
            AuditEvent(
                tenant=tenant,
                actor=caller,
                action=action,
                target=f"{tenant}/data",
                details={"source": source, **details},
            )
        )

    def export(self, tenant: str, *, caller: str, source: str) -> dict[str, Any]:
        """The tenant's data (schema cloudios.io/export/v1); the export itself is audited first, so
        it appears in what it returns."""
        self._record(tenant, ACTIONS["export"], caller, source, schema=EXPORT_SCHEMA)
        return self.store.export_tenant(tenant, now=self.clock())

    def erase(self, tenant: str, *, caller: str, source: str) -> dict[str, Any]:
        """Delete the tenant's Recommendation objects and store rows; audit entries stay, pseudonymous.

        The erasure's own entry is written afterwards and names the caller: who erased is kept as
        proof that the request was carried out.
        """
        removed = self.delete_recommendations(tenant) if self.delete_recommendations else 0
        counts = self.store.erase_tenant(tenant)
        entry = self._record(
            tenant,
            ACTIONS["erase"],
            caller,
            source,
            deleted=dict(counts.deleted),
            recommendationObjects=removed,
        )
        return {
            "tenant": tenant,
            "erasedAt": entry.time,
            **counts.to_json(),
            "recommendationObjects": removed,
            "auditSeq": entry.seq,
        }

    def denied(self, tenant: str, operation: Operation, *, caller: str, source: str) -> None:
        """An authenticated caller without the right: audited too."""
        self._record(tenant, DENIED[operation], caller, source)
