"""Golden cases: each module on hand-written snapshots, findings and priced savings compared.

A case is tests/golden/<module>/<case>/{snapshot.yaml, expected.yaml}. snapshot.yaml is compact:
``provider`` defaults to aws; per resource, metrics are given per statistic either as a list (one
value per day, the last being the day before ``collectedAt``) or as a scalar repeated over ``days``.
UPDATE_GOLDEN=1 rewrites expected.yaml from the current output; review the diff before committing it.

A case with ``dedupeWith: [module, ...]`` runs those modules too (with their defaults), prices every
finding and passes them through the pipeline's dedupe: expected.yaml then lists the findings kept,
with their module and what each superseded (one finding per resource, no dollar counted twice).
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudios import pricing
from cloudios.domain import DailyStat, Finding, Metric, MetricSummary, Provider, Resource, Snapshot
from cloudios.modules import registry
from cloudios.pipeline.dedupe import dedupe
from cloudios.pricing import aws as aws_pricing
from cloudios.pricing import azure as azure_pricing
from cloudios.pricing import gcp as gcp_pricing
from cloudios.pricing import kubernetes as kubernetes_pricing

HERE = Path(__file__).parent
CASES = sorted(p for p in HERE.glob("*/*") if (p / "snapshot.yaml").is_file())
DEFAULT_SAMPLES = 288  # 5-minute datapoints per day
BOOKS = {
    Provider.AWS: aws_pricing.bundled,
    Provider.GCP: gcp_pricing.bundled,
    Provider.AZURE: azure_pricing.bundled,
    Provider.KUBERNETES: kubernetes_pricing.bundled,
}
DEFAULT_ACCOUNTS = {Provider.AWS: "123456789012", Provider.KUBERNETES: "golden-cluster"}


def _series(spec: dict[str, Any], stat: str, days: int) -> list[Any]:
    value = spec.get(stat)
    if isinstance(value, list):
        if len(value) != days:
            raise ValueError(f"{stat}: {len(value)} values for {days} days")
        return value
    return [value] * days


def _summary(resource_id: str, metric: str, spec: dict[str, Any], end: date, lookback: int) -> MetricSummary:
    lengths = {len(v) for v in spec.values() if isinstance(v, list)}
    if len(lengths) > 1:
        raise ValueError(f"{resource_id} {metric}: lists of different lengths {lengths}")
    days = lengths.pop() if lengths else int(spec["days"])
    columns = {s: _series(spec, s, days) for s in ("average", "maximum", "p95", "p99", "sum", "minimum")}
    samples = _series({"samples": spec.get("samples", DEFAULT_SAMPLES)}, "samples", days)
    daily = []
    for i in range(days):
        average = columns["average"][i]
        total = columns["sum"][i]
        if average is None:  # counters may be given as daily sums only
            average = (total or 0) / samples[i] if samples[i] else 0.0
        maximum = columns["maximum"][i]
        daily.append(
            DailyStat(
                day=end - timedelta(days=days - i),
                average=average,
                maximum=average if maximum is None else maximum,
                p95=columns["p95"][i],
                p99=columns["p99"][i],
                sum=total,
                samples=samples[i],
                minimum=columns["minimum"][i],
            )
        )
    return MetricSummary(
        resource_id=resource_id, metric=Metric(metric), lookback_days=lookback, daily=tuple(daily)
    )


def load_snapshot(case: Path) -> tuple[Snapshot, dict[str, Any], str]:
    raw = yaml.safe_load((case / "snapshot.yaml").read_text())
    collected = raw["collectedAt"]
    collected = collected if isinstance(collected, datetime) else datetime.fromisoformat(collected)
    lookback = int(raw.get("lookbackDays", 14))
    provider = Provider(raw.get("provider", "aws"))
    account = str(raw.get("accountId", DEFAULT_ACCOUNTS.get(provider, "golden-project-1")))
    resources = []
    metrics: dict[str, dict[Metric, MetricSummary]] = {}
    for item in raw.get("resources", []):
        resources.append(
            Resource(
                provider=provider,
                account_id=account,
                region=item.get("region", "us-east-1"),
                kind=item["kind"],
                id=item["id"],
                name=item.get("name"),
                tags=item.get("tags", {}),
                created_at=item.get("createdAt"),
                attributes=item.get("attributes", {}),
            )
        )
        for metric, spec in (item.get("metrics") or {}).items():
            summary = _summary(item["id"], metric, spec, collected.date(), lookback)
            metrics.setdefault(item["id"], {})[Metric(metric)] = summary
    snapshot = Snapshot(
        provider=provider,
        account_id=account,
        collected_at=collected,
        lookback_days=lookback,
        resources=tuple(resources),
        metrics=metrics,
    )
    module = raw.get("module", case.parent.name)
    return snapshot, raw.get("settings") or {}, module


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def render(
    findings: list[Finding],
    evidence_keys: tuple[str, ...] = (),
    *,
    price_basis: bool = False,
    deduped: bool = False,
) -> dict[str, Any]:
    """The compared view of findings.

    ``evidence_keys`` (a case's ``evidenceKeys``) adds those evidence keys; ``price_basis`` (a case's
    ``priceBasis: true``) adds, for a priced finding, the recorded basis of each usage line's table;
    ``deduped`` (a case with ``dedupeWith``) adds the module and what it superseded.
    """
    out = []
    for f in sorted(findings, key=lambda f: f.resource_id):
        book = BOOKS[f.provider]()
        money = pricing.savings(f, book)
        basis = (
            [book.basis_of(u) for u in (*f.current_usage, *f.proposed_usage)]  # type: ignore[attr-defined]
            if price_basis and money is not None
            else None
        )
        out.append(
            {
                "resourceId": f.resource_id,
                **({"module": f.module, "supersedes": f.evidence.get("supersedes", [])} if deduped else {}),
                "id": f.id,
                "action": f.action.value,
                "category": f.category.value,
                "confidence": f.confidence.value,
                "proposed": f.proposed,
                "monthlySavings": None if money is None else _amount(money.amount),
                **({"unpricedReason": pricing.unpriced_reason(f, book)} if money is None else {}),
                **({"priceBasis": basis} if basis is not None else {}),
                **({"evidence": {k: f.evidence.get(k) for k in evidence_keys}} if evidence_keys else {}),
            }
        )
    return {"findings": out}


def _priced_and_deduped(snapshot: Snapshot, findings: list[Finding], others: list[str]) -> list[Finding]:
    """``findings`` plus those of ``others`` (defaults), priced as the pipeline does, then deduped."""
    everything = [*findings, *(f for name in others for f in registry.get(name).run(snapshot))]
    priced = [
        f.model_copy(update={"monthly_savings": pricing.savings(f, BOOKS[f.provider]())}) for f in everything
    ]
    return dedupe(priced)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_golden(case: Path) -> None:
    snapshot, settings, name = load_snapshot(case)
    module = registry.get(name)
    findings = module.run(snapshot, module.spec.settings.model_validate(settings))
    for f in findings:
        assert f.module == name
        assert f.monthly_savings is None, "modules leave pricing to the pricing step"
        assert "daysOfData" in f.evidence
        assert "thresholds" in f.evidence
        assert json.loads(f.model_dump_json())["id"] == f.id  # evidence is JSON-serializable
    raw = yaml.safe_load((case / "snapshot.yaml").read_text())
    keys = tuple(raw.get("evidenceKeys", ()))
    others = list(raw.get("dedupeWith", ()))
    if others:
        findings = _priced_and_deduped(snapshot, findings, others)
    actual = render(findings, keys, price_basis=bool(raw.get("priceBasis")), deduped=bool(others))
    expected_file = case / "expected.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(yaml.safe_dump(actual, sort_keys=False))
    assert actual == yaml.safe_load(expected_file.read_text())


def test_every_module_has_a_positive_and_a_negative_case() -> None:
    for module in registry.all_modules():
        cases = [c for c in CASES if c.parent.name == module.name]
        outcomes = {
            any(
                f.get("module", module.name) == module.name
                for f in yaml.safe_load((c / "expected.yaml").read_text())["findings"]
            )
            for c in cases
        }
        assert len(cases) >= 2, module.name
        assert outcomes == {True, False}, f"{module.name} needs a positive and a negative case"
