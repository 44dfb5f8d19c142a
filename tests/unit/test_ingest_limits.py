"""Ingest's in-memory limits with a fake clock: token buckets refill at their rate, lookups expire."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cloudios.ingest.limits import Grants, TokenBuckets
from cloudios.store.cluster_tokens import TokenGrant


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_one_per_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.5, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)  # one token back after 1 / 0.5 s
    assert buckets.take("b") == 0.0  # every key has its own bucket
    clock.now += 2.0
    assert buckets.wait("a") == 0.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now += 60
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never more than the burst


def test_buckets_forget_idle_keys_instead_of_growing() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=1, clock=clock, max_keys=10)
    for n in range(10):
        buckets.take(f"k{n}")
    clock.now += 5  # every bucket is full again: idle keys are dropped
    buckets.take("new")
    assert len(buckets._buckets) == 1


def test_lookups_are_reused_for_the_ttl_only() -> None:
    clock, calls = Clock(), []
    grant = TokenGrant("team-a", "c1", "prod", None, None)

    def find(digest: str) -> TokenGrant | None:
        calls.append(digest)
        return grant if digest == "known" else None

    grants = Grants(find, ttl=30, clock=clock)
    assert grants.get("known") is grant
    assert grants.get("unknown") is None
    assert grants.get("known") is grant
    assert grants.get("unknown") is None
    assert calls == ["known", "unknown"]
    clock.now += 30
    grants.get("known")
    assert calls == ["known", "unknown", "known"]
    assert Grants(find, ttl=0, clock=clock).get("known") is grant
