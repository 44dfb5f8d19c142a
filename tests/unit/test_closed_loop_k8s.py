"""The closed loop of the Kubernetes removal modules over a real store: a node drained and removed, a
claim or volume deleted, a LoadBalancer Service deleted, an abandoned workload scaled to zero — each
Applied at the next scan, then Verified with its realized saving; a change short of the proposal is
never Applied.

Each scan is what pipeline.scan does with a store (pipeline.closed_loop.follow, then record_scan),
over the golden before-snapshot and an after-snapshot built the way tests/golden_loop builds them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from cloudios import pricing
from cloudios.domain import ScanRecord, Snapshot
from cloudios.modules import outcomes, registry
from cloudios.pipeline import closed_loop
from cloudios.store.sql import SqlRepository
from tests.golden.test_golden import BOOKS, load_snapshot
from tests.golden_loop.test_golden_loop import GOLDEN, _after
from tests.unit.test_closed_loop import ACCOUNT, TENANT, _rounded

CASES = {
    # module: (golden before-case, resource followed, the change as proposed, a change short of it)
    "k8s.node.underutilized": (
        "removable", "n3", {"remove": ["n3"]}, {"set": {"n3": {"unschedulable": True}}},
    ),
    "k8s.pvc.unused": ("unmounted-claim", "shop/old-data", {"remove": ["shop/old-data"]}, None),
    "k8s.service.lb_idle": ("idle-nlb", "shop/old-lb", {"remove": ["shop/old-lb"]}, None),
    "k8s.workload.abandoned": (
        "idle",
        "shop/Deployment/forgotten",
        {"set": {"shop/Deployment/forgotten": {"replicas": 0, "runningPods": 0}}},
        {"set": {"shop/Deployment/forgotten": {"replicas": 1, "runningPods": 1}}},
    ),
}  # fmt: skip


def _scan(repo: SqlRepository, module: str, snapshot: Snapshot, settings: Any) -> closed_loop.LoopReport:
    book = BOOKS[snapshot.provider]()
    found = [
        f.model_copy(update={"monthly_savings": _rounded(pricing.savings(f, book))})
        for f in registry.get(module).run(snapshot, settings)
    ]
    report = closed_loop.follow(
        repo, tenant=TENANT, account_name=ACCOUNT, snapshot=snapshot,
        previous=repo.findings(TENANT, account_name=ACCOUNT), published=found, book=book,
        settings=closed_loop.LoopSettings(), now=snapshot.collected_at, modules=(module,), regions=None,
    )  # fmt: skip
    when = snapshot.collected_at
    record = ScanRecord(str(uuid.uuid4()), TENANT, ACCOUNT, "nightly", snapshot.provider.value, "c", when,
                        when, (module,), {}, len(snapshot.resources))  # fmt: skip
    repo.record_scan(record, found)
    return report


def _before(module: str) -> tuple[Snapshot, Any]:
    snapshot, settings, _ = load_snapshot(GOLDEN / module / CASES[module][0])
    return snapshot, registry.get(module).spec.settings.model_validate(settings)


def test_every_kubernetes_module_is_watched() -> None:
    assert {m.name for m in registry.all_modules() if m.name.startswith("k8s.")} <= set(outcomes.WATCHES)


@pytest.mark.parametrize("module", sorted(CASES))
def test_carried_out_is_applied_then_verified_with_the_estimate_realized(tmp_path: Path, module: str) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    before, settings = _before(module)
    _scan(repo, module, before, settings)
    (stored,) = [f for f in repo.findings(TENANT) if f.finding.resource_id == CASES[module][1]]
    change = CASES[module][2]
    report = _scan(repo, module, _after(before, change, 1), settings)
    assert report.applied == [stored.finding.id]
    assert _scan(repo, module, _after(before, change, 7), settings).verified == []
    assert _scan(repo, module, _after(before, change, 8), settings).verified == [stored.finding.id]
    (record,) = [r for r in repo.outcomes(TENANT) if r.finding_id == stored.finding.id]
    assert record.state == "Verified"
    assert record.realized is not None
    assert record.realized.monthly_savings == stored.finding.monthly_savings


@pytest.mark.parametrize("module", sorted(m for m, case in CASES.items() if case[3] is not None))
def test_a_change_short_of_the_proposal_is_never_applied(tmp_path: Path, module: str) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    before, settings = _before(module)
    _scan(repo, module, before, settings)
    short = CASES[module][3]
    assert short is not None
    assert _scan(repo, module, _after(before, short, 2), settings).applied == []
    (record,) = [r for r in repo.outcomes(TENANT) if r.baseline.finding.resource_id == CASES[module][1]]
    assert (record.state, record.outcome) == (None, "ChangedDifferently")
