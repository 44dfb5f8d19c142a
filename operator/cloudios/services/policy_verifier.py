"""A ScanPolicy run's AI verifier step: after publishing, bounded, never failing the run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from cloudios.api import ScanPolicy
from cloudios.api.names import SCAN_POLICY
from cloudios.domain import StoredFinding
from cloudios.services import policy_status, verifier
from cloudios.services.context import PolicyRuns
from cloudios.services.verifier_setup import VERIFIER_READY
from cloudios.sinks.conditions import Observation
from cloudios.sinks.notices import Notice

log = logging.getLogger(__name__)


def _had_condition(body: Mapping[str, Any]) -> bool:
    return any(c.get("type") == VERIFIER_READY for c in (body.get("status") or {}).get("conditions") or [])


async def after_publish(
    svc: PolicyRuns, body: Mapping[str, Any], policy: ScanPolicy, found: Sequence[StoredFinding]
) -> list[Notice]:
    """Ask the verifier about the published Recommendations, then write VerifierReady (with its
    Event on a transition). Runs after the run's status is written, so the scan's outcome never waits
    on it; the operator's CLOUDIOS_VERIFIER_BUDGET_SECONDS bounds it."""
    if svc.verifier is None or (policy.spec.verifier is None and not _had_condition(body)):
        return []
    namespace, name = policy.metadata.namespace, policy.metadata.name
    try:
        observation = await asyncio.to_thread(verifier.verify, svc.verifier, svc.kube, policy, found)
    except Exception as exc:  # noqa: BLE001 - a verifier fault is a condition, never a failed scan
        detail = policy_status.describe(exc)
        log.warning("policy %s/%s: the verifier failed: %s", namespace, name, detail)
        observation = Observation(VERIFIER_READY, "False", "VerifierError", f"the verifier failed: {detail}")
    try:
        return await svc.status.write(body, [observation], {}, kind=SCAN_POLICY)
    except Exception as exc:  # noqa: BLE001
        log.warning(
            "policy %s/%s: writing VerifierReady failed: %s", namespace, name, policy_status.describe(exc)
        )
        return []
