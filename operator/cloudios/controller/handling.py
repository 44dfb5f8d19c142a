"""What every handler module shares: posting Events and turning infrastructure errors into retries."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Any, TypeVar, cast

import kopf
from sqlalchemy.exc import SQLAlchemyError
from urllib3.exceptions import HTTPError

from cloudios.security.redaction import redact
from cloudios.sinks import kube
from cloudios.sinks.notices import Notice
from cloudios.sinks.operations_metrics import OperationsMetrics

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


def _labels(what: str) -> tuple[str, str]:
    """'ScanPolicy reconcile' -> ('ScanPolicy', 'reconcile'); 'CloudAccount health check' ->
    ('CloudAccount', 'health-check'): the kind and handler labels."""
    kind, _, handler = what.partition(" ")
    return kind, handler.replace(" ", "-") or "handler"


def _observe(metrics: OperationsMetrics | None, what: str, began: float, error: str | None) -> None:
    if metrics is not None:
        metrics.observe_handler(*_labels(what), time.monotonic() - began, error=error)


async def converge(
    work: Awaitable[list[Notice]], *, what: str, metrics: OperationsMetrics | None = None
) -> None:
    """Run a reconcile from a change handler; transient failures become a kopf retry, not a crash."""
    began, error = time.monotonic(), None
    try:
        post(await work)
    except TRANSIENT as exc:
        error = "transient"
        raise kopf.TemporaryError(f"{what}: {describe(exc)}; retrying", delay=RETRY_DELAY_SECONDS) from None
    except Exception:
        error = "unexpected"
        raise
    finally:
        _observe(metrics, what, began, error)


async def tick(work: Awaitable[list[Notice]], *, what: str, metrics: OperationsMetrics | None = None) -> None:
    """Run a reconcile from a timer: any failure is logged and the next tick tries again."""
    began, error = time.monotonic(), None
    try:
        post(await work)
    except Exception as exc:
        if isinstance(exc, TRANSIENT):
            error = "transient"
            log.warning("%s: %s; next tick retries", what, describe(exc))
        else:
            error = "unexpected"
            log.exception("%s failed; next tick retries", what)
    finally:
        _observe(metrics, what, began, error)


F = TypeVar("F", bound=Callable[..., None])


def admission(webhook: str, metrics: OperationsMetrics | None) -> Callable[[F], F]:
    """Time an admission handler and count its answers: allowed, denied (an AdmissionError below
    500: the request was refused on purpose) or error (the webhook could not decide)."""

    def wrap(handler: F) -> F:
        if metrics is None:
            return handler

        @functools.wraps(handler)
        def observed(*args: Any, **kwargs: Any) -> None:
            began, result = time.monotonic(), "error"
            try:
                handler(*args, **kwargs)
                result = "allowed"
            except kopf.AdmissionError as exc:
                result = "error" if (exc.code or 400) >= HTTPStatus.INTERNAL_SERVER_ERROR else "denied"
                raise
            finally:
                assert metrics is not None
                metrics.observe_admission(webhook, time.monotonic() - began, result=result)

        return cast("F", observed)

    return wrap
