"""Golden before/after cases of the closed loop: a module's finding, the next scan's inventory, the outcome.

A case is tests/golden_loop/<module>/<case>.yaml:

    before: aws.ec2.rightsize/oversized-m5-2xlarge   # a tests/golden case whose snapshot gives the finding
    resource: i-0b000000000000001                    # the finding followed (when the case has several)
    days: 8                                          # the after-scan is this many days later
    after:
      remove: [id, ...]                              # resources gone from the inventory
      set: {id: {attribute: value}}                  # attributes changed (merged; dicts replaced)
      metrics: {id: {metric: {days: 7, p99: 95}}}    # post-change daily series ending at the after-scan
      add: [{kind, id, name, attributes}, ...]        # resources new in the after-scan (a load balancer)
    expected: {outcome, observed, regressions, realizedMonthlySavings, realizedBasis | unrealizedReason}

The change is taken to have happened at the before-scan (the window starts there). UPDATE_GOLDEN=1
rewrites ``expected`` from the current output; review the diff before committing it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudios.domain import Finding, Metric, MetricSummary, Resource, Snapshot
from cloudios.modules import outcomes, registry
from cloudios.pricing.run_rate import realized
from tests.golden.test_golden import BOOKS, _summary, load_snapshot

HERE = Path(__file__).parent
GOLDEN = HERE.parent / "golden"
CASES = sorted(HERE.glob("*/*.yaml"))


def _after(before: Snapshot, spec: dict[str, Any], days: int) -> Snapshot:
    collected = before.collected_at + timedelta(days=days)
    removed = set(spec.get("remove") or ())
    changes: dict[str, dict[str, Any]] = spec.get("set") or {}
    resources = tuple(
        r.model_copy(update={"attributes": {**r.attributes, **changes.get(r.id, {})}})
        for r in before.resources
        if r.id not in removed
    ) + tuple(_added(before, item) for item in spec.get("add") or ())
    metrics: dict[str, dict[Metric, MetricSummary]] = {
        rid: dict(by_metric) for rid, by_metric in before.metrics.items() if rid not in removed
    }
    for rid, by_metric in (spec.get("metrics") or {}).items():
        for metric, series in by_metric.items():
            metrics.setdefault(rid, {})[Metric(metric)] = _summary(
                rid, metric, series, collected.date(), before.lookback_days
            )
    return before.model_copy(update={"collected_at": collected, "resources": resources, "metrics": metrics})


def _added(before: Snapshot, item: dict[str, Any]) -> Resource:
    """A resource new in the after-scan, in the before-scan's account and region."""
    keep = {"kind": item["kind"], "id": item["id"], "name": item.get("name"), "tags": {}}
    return before.resources[0].model_copy(update={**keep, "attributes": item.get("attributes", {})})


def _finding(case: dict[str, Any]) -> tuple[Finding, Snapshot]:
    snapshot, settings, name = load_snapshot(GOLDEN / case["before"])
    module = registry.get(name)
    found = module.run(snapshot, module.spec.settings.model_validate(settings))
    wanted = case.get("resource")
    chosen = [f for f in found if wanted is None or f.resource_id == wanted]
    assert len(chosen) == 1, f"the before-case gives {len(chosen)} finding(s) for {wanted}"
    return chosen[0], snapshot


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def outcome_of(case: dict[str, Any]) -> dict[str, Any]:
    finding, before = _finding(case)
    after = _after(before, case.get("after") or {}, int(case.get("days", 8)))
    seen = outcomes.observe(finding, after)
    assert seen is not None, f"{finding.module} declares no Watch"
    out: dict[str, Any] = {"outcome": seen.outcome.value, "observed": seen.observed}
    out["regressions"] = outcomes.regressions(
        finding, after, since=before.collected_at, thresholds=outcomes.Thresholds()
    )
    if seen.outcome is outcomes.Outcome.APPLIED:
        result = realized(finding.current_usage, finding.proposed_usage, BOOKS[finding.provider]())
        if result.money is None:
            out["unrealizedReason"] = result.reason
        else:
            out["realizedMonthlySavings"] = _amount(result.money.amount)
        out["realizedBasis"] = result.basis
    return out


@pytest.mark.parametrize("path", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_golden_loop(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    actual = outcome_of(case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        case["expected"] = actual
        path.write_text(yaml.safe_dump(case, sort_keys=False))
    assert actual == case["expected"]


def test_every_watched_module_has_an_applied_and_a_not_applied_case() -> None:
    seen: dict[str, set[str]] = {}
    for path in CASES:
        case = yaml.safe_load(path.read_text())
        seen.setdefault(path.parent.name, set()).add(case["expected"]["outcome"])
    missing = [m for m in outcomes.WATCHES if "Applied" not in seen.get(m, set()) or len(seen[m]) < 2]
    assert not missing, f"modules without an Applied and another outcome case: {missing}"


def test_the_after_scan_is_later_than_the_change() -> None:
    """A regression counts only post-change days: the same saturated series before the change is none."""
    case = yaml.safe_load((HERE / "aws.ec2.rightsize" / "applied-then-saturated.yaml").read_text())
    finding, before = _finding(case)
    after = _after(before, case["after"], int(case["days"]))
    late = before.collected_at + timedelta(days=int(case["days"]))
    assert outcomes.regressions(finding, after, since=late, thresholds=outcomes.Thresholds()) == []
    assert isinstance(late, datetime)
