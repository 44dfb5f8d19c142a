"""The AI verifier's answers in the store: the latest per finding, keyed by the evidence it judged.

Mixed into ``SqlRepository`` (like OutboxStore); every method is one transaction of one tenant.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from cloudios.store import schema


@dataclass(frozen=True)
class StoredVerdict:
    """One answer: ``evidence_hash`` names the question (summary, model, provider) it answers."""

    tenant: str
    finding_id: str
    policy: str
    evidence_hash: str
    verdict: str
    reason: str
    model: str
    asked_at: datetime


class VerdictStore:
    """Verdicts over SqlRepository's tenant transactions."""

    def tenant_transaction(self, tenant: str) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def verdicts(self, tenant: str, finding_ids: Iterable[str]) -> dict[str, StoredVerdict]:
        """The stored answers of these findings, by finding id."""
        ids = sorted(set(finding_ids))
        if not ids:
            return {}
        t = schema.verifier_verdicts
        with self.tenant_transaction(tenant) as conn:
            rows = conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.finding_id.in_(ids))).all()
        return {
            r.finding_id: StoredVerdict(
                tenant=r.tenant, finding_id=r.finding_id, policy=r.policy, evidence_hash=r.evidence_hash,
                verdict=r.verdict, reason=r.reason, model=r.model, asked_at=r.asked_at,
            )
            for r in rows
        }  # fmt: skip

    def record_verdict(self, verdict: StoredVerdict) -> None:
        """Insert or replace the finding's answer."""
        t = schema.verifier_verdicts
        values = {
            "policy": verdict.policy, "evidence_hash": verdict.evidence_hash, "verdict": verdict.verdict,
            "reason": verdict.reason, "model": verdict.model, "asked_at": verdict.asked_at,
        }  # fmt: skip
        where = (t.c.tenant == verdict.tenant, t.c.finding_id == verdict.finding_id)
        with self.tenant_transaction(verdict.tenant) as conn:
            if conn.execute(t.update().where(*where).values(**values)).rowcount == 0:
                conn.execute(
                    t.insert().values(tenant=verdict.tenant, finding_id=verdict.finding_id, **values)
                )
