"""Retention timers with a fake clock: health checks 30 days, erased tenants at once, audit kept 7 years."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

from cloudios.security.audit import AuditEvent, ChainKey
from cloudios.services import retention
from cloudios.services.data_rights import DataRights
from cloudios.store import SqlRepository
from cloudios.store.audit import SqlAuditLog
from cloudios.store.health import HealthCheckRecord
from tests.unit.test_store import T0, f, scan

SEVEN_YEARS = timedelta(days=7 * 365 + 2)


def test_the_retention_loop_purges_on_its_timer_with_a_fake_clock(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    repo.upsert_account(tenant="team-a", name="prod", provider="aws", account_id="1", now=T0)
    repo.record_health_check(HealthCheckRecord("team-a", "prod", T0, ok=True, reason="Valid", message="ok"))
    repo.record_health_check(
        HealthCheckRecord("team-a", "prod", T0 + timedelta(days=20), ok=True, reason="V", message="")
    )
    now = [T0 + timedelta(days=29)]
    passes: list[int] = []

    async def fake_sleep(_seconds: float) -> None:
        passes.append(len(repo.health_checks("team-a")))
        if len(passes) == 3:
            raise asyncio.CancelledError
        now[0] += timedelta(days=2)  # the fake clock moves two days per interval

    async def main() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await retention.run_forever(
                repo, clock=lambda: now[0], retention_days=30, interval=3600, sleep=fake_sleep
            )

    asyncio.run(main())
    repo.close()
    # Day 29: both kept; day 31: the first is older than 30 days; day 33: the second is 13 days old.
    assert passes[:3] == [2, 1, 1]


def test_audit_entries_outlive_every_purge_for_seven_years_and_erasure_is_immediate(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    log = SqlAuditLog.sqlite(tmp_path, chain_key=ChainKey.generate())
    log.append(AuditEvent("team-a", "alice@example.com", "recommendation.approved", "team-a/r1", {}))
    repo.record_scan(scan("s1", T0), [f("i-1")])
    repo.upsert_account(tenant="team-a", name="prod", provider="aws", account_id="1", now=T0)
    # Erasure does not wait for the 30 days: the tenant's rows are gone at once.
    DataRights(store=repo, audit=log, clock=lambda: T0).erase("team-a", caller="owner", source="cli")
    assert repo.findings("team-a", include_resolved=True) == []
    assert repo.accounts("team-a", include_deleted=True) == []
    for now in (T0 + timedelta(days=31), T0 + SEVEN_YEARS - timedelta(days=1)):
        retention.purge_once(repo, now=now, retention_days=30)
        assert [e.action for e in log.entries("team-a")] == ["recommendation.approved", "data.erased"]
    log.close()
    repo.close()
