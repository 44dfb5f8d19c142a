"""The closed loop's rows: each finding's baseline and observed outcome (table recommendation_outcomes).

Mixed into ``SqlRepository`` like the outbox; every method is one transaction of one tenant. A row is
written only when it changes, so a repeated scan writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

import sqlalchemy as sa

from cloudios.domain.closed_loop import LoopRecord
from cloudios.store import schema


def _record(row: sa.Row[tuple[object, ...]]) -> LoopRecord:
    return LoopRecord.model_validate(row.payload)


class OutcomeStore:
    """The loop's records over SqlRepository's tenant transactions."""

    def tenant_transaction(self, tenant: str) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def outcomes(self, tenant: str, *, account_name: str | None = None) -> list[LoopRecord]:
        """The tenant's loop records (of one account), by account and finding id."""
        t = schema.recommendation_outcomes
        query = sa.select(t.c.payload).where(t.c.tenant == tenant)
        if account_name is not None:
            query = query.where(t.c.account_name == account_name)
        with self.tenant_transaction(tenant) as conn:
            rows = conn.execute(query.order_by(t.c.account_name, t.c.finding_id)).all()
        return [_record(row) for row in rows]

    def save_outcomes(self, tenant: str, records: Sequence[LoopRecord], *, now: datetime) -> int:
        """Insert or replace the records whose content changed; how many rows were written."""
        if any(r.tenant != tenant for r in records):
            raise ValueError("every record must belong to the transaction's tenant")
        t = schema.recommendation_outcomes
        written = 0
        with self.tenant_transaction(tenant) as conn:
            for record in records:
                key = (
                    t.c.tenant == tenant,
                    t.c.account_name == record.account_name,
                    t.c.finding_id == record.finding_id,
                )
                payload = record.model_dump(mode="json")
                have = conn.execute(sa.select(t.c.payload).where(*key)).first()
                if have is not None and have.payload == payload:
                    continue
                values = {
                    "module": record.module,
                    "state": record.state,
                    "payload": payload,
                    "updated_at": now,
                }
                if have is None:
                    conn.execute(
                        t.insert().values(
                            tenant=tenant,
                            account_name=record.account_name,
                            finding_id=record.finding_id,
                            **values,
                        )
                    )
                else:
                    conn.execute(t.update().where(*key).values(**values))
                written += 1
        return written
