"""What every handler module shares: posting Events and turning infrastructure errors into retries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from typing import cast

import kopf
from sqlalchemy.exc import SQLAlchemyError
from urllib3.exceptions import HTTPError

from cloudios.security.redaction import redact
from cloudios.sinks import kube
from cloudios.sinks.notices import Notice

log = logging.getLogger(__name__)

# The API server or the store being unavailable: nothing wrong with the object, try again later.
TRANSIENT = (kube.ApiError, HTTPError, OSError, SQLAlchemyError, TimeoutError)
RETRY_DELAY_SECONDS = 20


def post(notices: Iterable[Notice]) -> None:
    for notice in notices:
        kopf.event(
            kopf.Body(cast("kopf.RawBody", dict(notice.obj))),
            type=notice.type,
            reason=notice.reason,
            message=redact(notice.message),
        )


describe = kube.describe


async def converge(work: Awaitable[list[Notice]], *, what: str) -> None:
    """Run a reconcile from a change handler; transient failures become a kopf retry, not a crash."""
    try:
        post(await work)
    except TRANSIENT as exc:
        raise kopf.TemporaryError(f"{what}: {describe(exc)}; retrying", delay=RETRY_DELAY_SECONDS) from None


async def tick(work: Awaitable[list[Notice]], *, what: str) -> None:
    """Run a reconcile from a timer: any failure is logged and the next tick tries again."""
    try:
        post(await work)
    except Exception as exc:
        if isinstance(exc, TRANSIENT):
            log.warning("%s: %s; next tick retries", what, describe(exc))
        else:
            log.exception("%s failed; next tick retries", what)
