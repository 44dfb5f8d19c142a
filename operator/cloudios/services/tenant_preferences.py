"""A tenant's restrictions and objections: the `cloudios-tenant` ConfigMap in its namespace.

    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cloudios-tenant, namespace: team-a}
    data:
      aiVerifier: "optOut"          # no finding of this namespace is sent to the AI verifier
      aggregateMetrics: "optOut"    # no per-namespace savings/recommendation series on /metrics

Any other value (or no ConfigMap) allows the processing. If the ConfigMap cannot be read, the tenant
is treated as opted out of both: an objection is never lost to an API error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from cloudios.sinks.kube import describe

CONFIGMAP = "cloudios-tenant"
OPT_OUT = "optOut"

log = logging.getLogger(__name__)


class ConfigMaps(Protocol):
    """sinks.kube.Kube."""

    def config_map(self, namespace: str, name: str) -> tuple[dict[str, str], str] | None: ...


@dataclass(frozen=True)
class TenantPreferences:
    """What a tenant allows beyond its own scans (spec.suspend pauses those)."""

    ai_verifier: bool = True
    aggregate_metrics: bool = True


def read(kube: ConfigMaps, namespace: str) -> TenantPreferences:
    try:
        found = kube.config_map(namespace, CONFIGMAP)
    except Exception as exc:  # noqa: BLE001 - unreadable: honour the strictest reading
        log.warning(
            "cannot read ConfigMap %s/%s, treating it as opted out: %s", namespace, CONFIGMAP, describe(exc)
        )
        return TenantPreferences(ai_verifier=False, aggregate_metrics=False)
    data = found[0] if found is not None else {}
    return TenantPreferences(
        ai_verifier=data.get("aiVerifier", "").strip() != OPT_OUT,
        aggregate_metrics=data.get("aggregateMetrics", "").strip() != OPT_OUT,
    )
