"""providers.aws.collect._run_all: results are consumed as they land, with a bounded number in flight."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cloudios.providers.aws.collect import _run_all


def test_at_most_ahead_results_are_outstanding_with_a_slow_consumer() -> None:
    lock = threading.Lock()
    outstanding = 0
    highest = 0

    def task(i: int) -> int:
        nonlocal outstanding, highest
        with lock:
            outstanding += 1
            highest = max(highest, outstanding)
        return i

    def consume(_: int) -> None:
        nonlocal outstanding
        time.sleep(0.002)  # slower than the workers: unbounded submission would pile up results
        with lock:
            outstanding -= 1

    seen: list[int] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        _run_all(
            pool,
            [lambda i=i: task(i) for i in range(200)],
            consume=lambda r: (consume(r), seen.append(r)),
            ahead=6,
        )
    assert sorted(seen) == list(range(200))
    assert highest <= 6


def test_without_consume_results_come_back_in_order_and_errors_raise() -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert _run_all(pool, [lambda i=i: i * i for i in range(20)], ahead=2) == [i * i for i in range(20)]

        def boom() -> int:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            _run_all(pool, [boom, *[lambda: 1] * 10], consume=lambda _: None, ahead=2)
