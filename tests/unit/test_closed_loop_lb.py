"""The closed loop's load-balancer error signal over a real store: the probe's rule (floor, growth,
traffic, load balancer type, targets), its settings, Regressed with evidence, when the scan asks for
load balancers, and a role without the ELB reads. The store and scan helpers are test_closed_loop's.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudios.api.closed_loop import ClosedLoop
from cloudios.domain import Snapshot
from cloudios.modules import registry
from cloudios.pipeline import closed_loop
from cloudios.store.sql import SqlRepository
from tests.golden_loop.test_golden_loop import _after
from tests.unit.test_closed_loop import (
    ACCOUNT,
    BOOK,
    INSTANCE,
    MODULE,
    TENANT,
    _before,
    _publish,
    _resized,
    _scan,
)

ALB = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/web/0123456789abcdef"


def _behind_alb(days: int, errors_before: float, errors_after: float, *, requests: float = 10_000,
                lb_type: str = "application", targets: tuple[str, ...] = (INSTANCE,),
                ) -> Snapshot:  # fmt: skip
    """Resized, behind a load balancer whose 5xx per day go from ``errors_before`` to ``errors_after``
    (series of 14 days ending at the after-scan; the change is ``days`` days before it)."""
    changed = 14 - days
    target_5xx = [errors_before] * changed + [errors_before] + [errors_after] * (days - 1)
    change = {
        "set": {INSTANCE: {"instanceType": "m5.xlarge"}},
        "add": [{"kind": "elbv2.loadbalancer", "id": ALB, "name": "web",
                 "attributes": {"type": lb_type, "arnSuffix": "app/web/0123456789abcdef",
                                "targetInstances": list(targets)}}],
        "metrics": {ALB: {"request_count": {"sum": [requests] * 14},
                          "lb_target_5xx_count": {"sum": target_5xx},
                          "lb_5xx_count": {"sum": [0] * 14}}},
    }  # fmt: skip
    return _after(_before(), change, days)


@pytest.mark.parametrize(
    ("errors", "requests", "lb_type", "targets", "raised"),
    [
        ((10, 300), 10_000, "application", (INSTANCE,), True),  # 0.1% -> 3%
        ((10, 90), 10_000, "application", (INSTANCE,), False),  # 0.9%: under the 1% floor
        ((200, 300), 10_000, "application", (INSTANCE,), False),  # 2% -> 3%: not twice the baseline
        ((200, 400), 10_000, "application", (INSTANCE,), True),  # 2% -> 4%: exactly twice
        ((0, 0), 0, "application", (INSTANCE,), False),  # no traffic, no signal
        ((300, 300), 10_000, "application", (INSTANCE,), False),  # 3% all along: not worse
        ((10, 300), 10_000, "network", (INSTANCE,), False),  # a network load balancer has no 5xx
        ((10, 300), 10_000, "application", ("i-0other",), False),  # the instance is not its target
    ],
)
def test_the_load_balancer_error_probe(errors: tuple[float, float], requests: float, lb_type: str,
                                       targets: tuple[str, ...], raised: bool) -> None:  # fmt: skip
    from cloudios.modules import outcomes  # noqa: PLC0415

    before, after = errors
    snapshot = _behind_alb(8, before, after, requests=requests, lb_type=lb_type, targets=targets)
    (finding,) = registry.get(MODULE).run(_before())
    since = _before().collected_at
    found = outcomes.regressions(finding, snapshot, since=since, thresholds=outcomes.Thresholds())
    assert [r["signal"] for r in found] == (["LoadBalancerErrors"] if raised else [])
    if raised:
        assert found[0]["loadBalancer"] == "web"
        assert (found[0]["beforeRatio"], found[0]["afterRatio"]) == (before / 100, after / 100)
        assert (found[0]["requestsAfter"], found[0]["days"]) == (7 * requests, 7)


def test_load_balancer_error_limits_are_settings() -> None:
    from cloudios.modules import outcomes  # noqa: PLC0415

    snapshot = _behind_alb(8, 10, 300)
    (finding,) = registry.get(MODULE).run(_before())
    since = _before().collected_at
    strict = outcomes.Thresholds(lb_error_percent=5)
    assert outcomes.regressions(finding, snapshot, since=since, thresholds=strict) == []
    growth = outcomes.Thresholds(lb_error_growth=40)
    assert outcomes.regressions(finding, snapshot, since=since, thresholds=growth) == []
    spec = ClosedLoop.model_validate({"lbErrorPercent": 5, "lbErrorGrowth": 3})
    assert (spec.lb_error_percent, spec.lb_error_growth) == (5, 3)


def test_load_balancer_errors_raise_regressed_with_evidence(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    _scan(repo, _resized(1, 40))
    _, obj = _publish(repo, obj)
    report = _scan(repo, _behind_alb(3, 10, 300))
    assert report.regressed == [repo.outcomes(TENANT)[0].finding_id]
    _, obj = _publish(repo, obj)
    (condition,) = [c for c in obj["status"]["conditions"] if c["type"] == "Regressed"]
    assert condition["reason"] == "LoadBalancerErrors"
    assert "load balancer web answered 3.0% 5xx over 1 day(s) (10000 requests)" in condition["message"]
    assert "vs 0.1% before the change" in condition["message"]


def test_the_scan_asks_for_load_balancers_only_while_a_resize_is_followed(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)

    def needs() -> tuple[frozenset[str], tuple[Any, ...]]:
        return closed_loop.probe_needs(repo, tenant=TENANT, account_name=ACCOUNT, modules=(MODULE,))

    _scan(repo, _before())
    assert needs() == (frozenset(), ())  # proposed, not carried out: nothing more to read
    _scan(repo, _resized(1, 40))
    kinds, metrics = needs()
    assert kinds == {"elbv2.loadbalancer"}
    assert {(m.kind, m.metric.value) for m in metrics} == {
        ("elbv2.loadbalancer", "request_count"),
        ("elbv2.loadbalancer", "lb_target_5xx_count"),
        ("elbv2.loadbalancer", "lb_5xx_count"),
    }
    other = closed_loop.probe_needs(
        repo, tenant=TENANT, account_name=ACCOUNT, modules=("aws.ebs.unattached",)
    )
    assert other == (frozenset(), ())  # the module is not selected: its records are not followed


def test_a_role_without_elb_reads_scans_on_without_the_load_balancer_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal's load balancers are read with the ELB describe calls; a role granted before them gets
    a warning and the rest of the scan, not a failed scan."""
    from collections import Counter  # noqa: PLC0415

    from cloudios.api import CloudAccount, ScanPolicy  # noqa: PLC0415
    from cloudios.pipeline import scan as pipeline_scan  # noqa: PLC0415
    from cloudios.providers.base import CollectRequest, CollectResult, ProviderError  # noqa: PLC0415

    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _scan(repo, _resized(1, 40))  # Applied: the next scan follows it
    asked: list[frozenset[str]] = []

    class Denied:
        def collect(self, request: CollectRequest) -> CollectResult:
            asked.append(request.kinds)
            if "elbv2.loadbalancer" in request.kinds:
                raise ProviderError(
                    "PermissionDenied", "elasticloadbalancing:DescribeLoadBalancers was denied"
                )
            return CollectResult(snapshot=_resized(2, 40), api_calls=Counter())

    real = pipeline_scan.providers.get("aws")
    denied = Denied()
    monkeypatch.setattr(denied, "shards", real.shards, raising=False)
    monkeypatch.setattr(pipeline_scan.providers, "get", lambda _name: denied)
    account = CloudAccount.model_validate({
        "metadata": {"name": ACCOUNT, "namespace": TENANT},
        "spec": {"provider": "aws", "aws": {"accountId": "123456789012", "externalId": "x1",
                 "roleArn": "arn:aws:iam::123456789012:role/cloudios-readonly", "regions": ["us-east-1"]}},
    })  # fmt: skip
    policy = ScanPolicy.model_validate({"metadata": {"name": "nightly", "namespace": TENANT}, "spec": {}})
    outcome = pipeline_scan.scan(
        account, policy, now=_resized(2, 40).collected_at, store=repo, price_book=BOOK
    )
    assert ["elbv2.loadbalancer" in k for k in asked] == [True, False]
    assert any("5xx errors are not watched" in w for w in outcome.warnings)


def test_no_baseline_in_the_window_gives_no_load_balancer_signal() -> None:
    """Once the lookback has slid past the change there is nothing to compare with: a steady error
    rate is not reported as a regression of a change made weeks ago."""
    from cloudios.modules import outcomes  # noqa: PLC0415

    snapshot = _behind_alb(8, 10, 300)
    (finding,) = registry.get(MODULE).run(_before())
    long_ago = _before().collected_at - timedelta(days=30)
    assert outcomes.regressions(finding, snapshot, since=long_ago, thresholds=outcomes.Thresholds()) == []
