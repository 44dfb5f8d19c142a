"""When a CloudAccount's credentials are checked again: each interval, or sooner with backoff after a
check that failed for a reason that may pass by itself (an endpoint down, throttling, a timeout)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from cloudios.api.names import CLOUD_ACCOUNT
from cloudios.api.objects import name_of
from cloudios.services import schedule
from cloudios.services.context import AccountChecks
from cloudios.sinks.kube import describe

log = logging.getLogger(__name__)

# Reasons a later check may not share: the network, the provider or our own bug, not the account.
TRANSIENT = frozenset(
    {
        "EndpointUnreachable",
        "ProbeTimedOut",
        "Throttled",
        "ProbeFailed",
        "AwsApiError",
        "AwsClientError",
        "GcpUnreachable",
        "GcpApiError",
        "AzureApiError",
    }
)


class Stopped(Protocol):
    """What the loop needs of kopf's ``stopped`` flag: is it set, and an interruptible wait."""

    def __bool__(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> Awaitable[Any]: ...


def last_check(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    check = (status or {}).get("lastHealthCheck")
    return check if isinstance(check, Mapping) else None


def newer(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The later of two checks (the live view may not show a check just written yet)."""
    times = [(schedule.parse_time((c or {}).get("time")), c) for c in (a, b) if c is not None]
    dated = [(t, c) for t, c in times if t is not None]
    return max(dated, key=lambda tc: tc[0])[1] if dated else (a or b)


def transient(check: Mapping[str, Any] | None) -> bool:
    """Whether the check failed for a transient reason (worth re-checking before the interval)."""
    return check is not None and check.get("ok") is False and check.get("reason") in TRANSIENT


def backoff(failures: int, *, retry: float, interval: float) -> float:
    """retry, 2 x retry, 4 x retry, ... after 1, 2, 3 ... transient failures, never beyond interval."""
    return min(interval, retry * 2.0 ** max(0, failures - 1))


def due_at(
    check: Mapping[str, Any] | None,
    *,
    failures: int,
    interval: float,
    retry: float,
    fallback: datetime,
) -> datetime:
    """When the next check is due, from the last one in status (``fallback`` when there is none)."""
    checked = schedule.parse_time((check or {}).get("time"))
    if checked is None:
        return fallback
    wait = backoff(max(1, failures), retry=retry, interval=interval) if transient(check) else interval
    return checked + timedelta(seconds=wait)


async def check_periodically(
    checks: AccountChecks,
    body: Mapping[str, Any],
    stopped: Stopped,
    *,
    first_delay: float,
    check: Callable[[], Awaitable[None]],
) -> None:
    """Run ``check`` every interval, and sooner, with backoff, while the last check failed for a
    transient reason (an endpoint down must not leave the account not Ready for a whole interval).

    ``body`` is kopf's live view of the object, so a failed check by the create or update
    reconcile is seen here too. Waits are short polls so that such a check is noticed in time.
    """
    interval = first_delay  # the jitter of the first delay spreads the accounts' checks for good
    retry = min(checks.settings.retry_seconds, interval)
    fallback = checks.clock() + timedelta(seconds=first_delay)
    failures = 0
    mine = None  # the last check this loop ran, until the live view shows it
    not_before = checks.clock()  # never two attempts within ``retry`` (a failing store, say)
    namespace, name = name_of(body)
    while not stopped:
        last = newer(last_check(body.get("status")), mine)
        due = max(
            due_at(last, failures=failures, interval=interval, retry=retry, fallback=fallback), not_before
        )
        wait = (due - checks.clock()).total_seconds()
        if wait > 0:
            await stopped.wait(min(wait, retry))
            continue
        await check()
        fallback = checks.clock() + timedelta(seconds=interval)
        not_before = checks.clock() + timedelta(seconds=retry)
        try:
            latest = await asyncio.to_thread(checks.kube.get, CLOUD_ACCOUNT, namespace, name)
        except Exception as exc:  # noqa: BLE001 - the loop must go on; the next round reads again
            log.warning("CloudAccount %s/%s: reading the check back: %s", namespace, name, describe(exc))
            continue
        mine = last_check((latest or {}).get("status"))
        failures = failures + 1 if transient(mine) else 0
        if failures:
            log.info(
                "CloudAccount %s/%s: transient failure %d (%s); next check in %.0fs",
                namespace, name, failures, (mine or {}).get("reason"),
                backoff(failures, retry=retry, interval=interval),
            )  # fmt: skip
