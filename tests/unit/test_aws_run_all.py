"""providers.aws.collect._run_all: results are consumed as they land, with a bounded number in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
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


def test_tasks_are_taken_from_a_lazy_iterator_only_as_room_frees() -> None:
    taken = 0

    def tasks() -> Iterator[Callable[[], int]]:
        nonlocal taken
        for i in range(100):
            taken += 1
            yield lambda i=i: i

    most_ahead = 0

    def consume(_: int) -> None:
        nonlocal most_ahead, consumed
        consumed += 1
        most_ahead = max(most_ahead, taken - consumed)

    consumed = 0
    with ThreadPoolExecutor(max_workers=3) as pool:
        _run_all(pool, tasks(), consume=consume, ahead=5)
    assert consumed == taken == 100
    assert most_ahead <= 5  # a plan of a million batches would never be materialised
