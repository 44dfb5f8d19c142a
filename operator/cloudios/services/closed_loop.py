"""The closed loop at publish time: the loop's records for a policy's findings, and what a publish announces.

The scan (pipeline.closed_loop) records what it saw in the store; the publish derives the
Recommendations' states from those records (sinks.recommendation_objects) and, for each state change
it wrote, appends an audit entry with the evidence hash, posts an Event, counts it in the metrics and
enqueues the webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudios.domain import StoredFinding
from cloudios.domain.closed_loop import LoopRecord
from cloudios.store.repository import Repository


def records_for(store: Repository, tenant: str, found: Sequence[StoredFinding]) -> dict[str, LoopRecord]:
    """The loop's record of each finding among ``found``, by finding id (each of its own account)."""
    wanted = {(f.account_name, f.finding.id) for f in found}
    records: dict[str, LoopRecord] = {}
    for account in sorted({a for a, _ in wanted}):
        for record in store.outcomes(tenant, account_name=account):
            if (account, record.finding_id) in wanted:
                records[record.finding_id] = record
    return records
