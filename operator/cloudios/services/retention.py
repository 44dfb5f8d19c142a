"""Retention: purge health checks and deleted accounts' data older than the retention period."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from cloudios.store.health import PurgeCounts
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)
USAGE_DAYS = 90


def purge_once(
    store: Repository, *, now: datetime, retention_days: int, usage_days: int = USAGE_DAYS
) -> PurgeCounts:
    """One pass; idempotent, so a standby replica running it too does no harm. Agent usage older
    than ``usage_days`` goes too (the longest lookback is 90 days)."""
    counts = store.purge_expired(
        now=now, retention=timedelta(days=retention_days), usage_retention=timedelta(days=usage_days)
    )
    if any(dataclasses.astuple(counts)):
        log.info(
            "retention purged %d health check(s), %d deleted account(s) with %d scan(s) and %d finding(s); "
            "agent data: %d usage row(s), %d batch record(s), %d deleted cluster(s), %d token(s); "
            "%d finished webhook deliveries",
            counts.health_checks,
            counts.accounts,
            counts.scans,
            counts.findings,
            counts.agent_usage,
            counts.agent_batches,
            counts.agent_clusters,
            counts.cluster_tokens,
            counts.webhooks,
        )
    return counts


async def run_forever(
    store: Repository,
    *,
    clock: Callable[[], datetime],
    retention_days: int,
    interval: float,
    usage_days: int = USAGE_DAYS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Purge now and then every ``interval`` seconds until cancelled; failures wait for the next pass."""
    while True:
        try:
            await asyncio.to_thread(
                purge_once, store, now=clock(), retention_days=retention_days, usage_days=usage_days
            )
        except Exception:
            log.exception("retention pass failed")
        await sleep(interval)
