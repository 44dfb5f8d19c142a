"""Polling for effects the API server makes visible asynchronously (RBAC, new CRDs, OpenAPI)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes import client as k8s

T = TypeVar("T")


def eventually(
    check: Callable[[], T], timeout: float = 30.0, what: str = "condition", every: float = 0.2
) -> T:
    """Retry ``check`` until it returns something truthy; API and assertion errors count as not yet."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (k8s.ApiException, AssertionError) as exc:
            last = exc
        else:
            if result:
                return result
        time.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout}s; last error: {last}")
