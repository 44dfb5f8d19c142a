"""Retention: purge health checks and deleted accounts' data older than the retention period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from cloudios.store.health import PurgeCounts
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)


def purge_once(store: Repository, *, now: datetime, retention_days: int) -> PurgeCounts:
    """One pass; idempotent, so a standby replica running it too does no harm."""
    counts = store.purge_expired(now=now, retention=timedelta(days=retention_days))
    if any((counts.health_checks, counts.accounts, counts.scans, counts.findings)):
        log.info(
            "retention purged %d health check(s), %d deleted account(s) with %d scan(s) and %d finding(s)",
            counts.health_checks,
            counts.accounts,
            counts.scans,
            counts.findings,
        )
    return counts


async def run_forever(
    store: Repository,
    *,
    clock: Callable[[], datetime],
    retention_days: int,
    interval: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Purge now and then every ``interval`` seconds until cancelled; failures wait for the next pass."""
    while True:
        try:
            await asyncio.to_thread(purge_once, store, now=clock(), retention_days=retention_days)
        except Exception:
            log.exception("retention pass failed")
        await sleep(interval)
