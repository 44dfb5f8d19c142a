"""`cloudios scan` end to end against a moto server over HTTP: accuracy, pricing, batching, output."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cloudios.cli.main import main
from cloudios.emulators.aws.sample_estate import seed_estate
from cloudios.modules import registry
from cloudios.pricing import aws as aws_prices
from cloudios.store import SqlRepository
from tests.support.manifests import ACCOUNT, aws_manifests
from tests.support.moto import BASE_SECRET, AwsEnv

pytestmark = pytest.mark.aws

# eu-west-3: instances are priced from the bundled ec2instances.info tables; EBS, snapshots, IPv4,
# ELB and NAT have no bundled prices there (their findings are published unpriced, with the reason).
REGIONS = ("us-east-1", "eu-west-3")
# Findings the bundled book cannot price in any region: RDS snapshot storage and previous-generation
# RDS classes (db.m4, db.t2) have no table or entry, so they are published unpriced with the reason.
BOOK_GAPS = frozenset({"aws.rds.snapshot_old", "aws.rds.previous_generation"})
# Profiles that must not be flagged by the modules named (the traps), whatever else flags them.
TRAPS = {
    "batch-oversized": {"aws.ec2.idle", "aws.ec2.rightsize"},
    "bursty": {"aws.ec2.idle", "aws.ec2.rightsize"},
    "busy-windows": {"aws.ec2.graviton"},
    "busy-arm": {"aws.ec2.graviton"},
    "root-quiet": {"aws.ebs.low_activity"},
    "moderate": {"aws.ebs.low_activity"},
    "quiet-thin": {"aws.ebs.low_activity"},
    "io2-20000-busy": {"aws.ebs.io_to_gp3"},
    "io2-5000-multi-attach-busy": {"aws.ebs.io_to_gp3"},
    "ami": {"aws.ebs.snapshot_orphaned", "aws.ebs.snapshot_old"},
    "memory-bound-db": {"aws.rds.rightsize"},
    "batch-db": {"aws.rds.rightsize"},
    "thin-db": {"aws.rds.rightsize"},
}


def manifests(tmp_path: Path, *, lookback: int = 30, min_savings: str = "0") -> Path:
    return aws_manifests(tmp_path, regions=REGIONS, lookback=lookback, min_savings=min_savings)


def scan_json(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["scan", "-f", str(path), "-o", "json", "--data-dir", str(tmp_path / "data"), *extra])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "scale"), [(11, 1), (2026, 1), (7, 5)])
def test_unseen_estate_precision_recall_pricing_and_batching(
    aws_env: AwsEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int, scale: int
) -> None:
    truth = seed_estate(
        aws_env.url, seed=seed, regions=REGIONS, account_id=ACCOUNT, lookback_days=30, scale=scale
    )
    code, report = scan_json(manifests(tmp_path), tmp_path, capsys)
    assert code == 0, report["summary"]["errors"]
    recs = report["recommendations"]

    # Accuracy against what a careful FinOps engineer would flag (the estate's labels).
    score = truth.score((r["resourceId"], r["module"]) for r in recs)
    tp = sum(score.true_positives.values())
    fp = sum(score.false_positives.values())
    fn = sum(score.false_negatives.values())
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.95, (precision, dict(score.false_positives))
    assert recall >= 0.95, (recall, dict(score.false_negatives))
    assert tp >= 20 * scale  # the estate is not trivially small
    assert score.true_positives["aws.ebs.stopped_instance"] >= 2 * scale  # one per region and scale

    # No trap is hit: the daily-batch instances are neither idle nor rightsized, Windows and arm64
    # machines get no Graviton move, a root volume is not deleted, io2 above 16,000 IOPS stays, ...
    profiles = {label.resource_id: label.profile for label in truth.labels}
    hits = [
        (profiles[r["resourceId"]], r["module"])
        for r in recs
        if r["module"] in TRAPS.get(profiles.get(r["resourceId"], ""), ())
    ]
    assert hits == []
    assert {p for p in profiles.values() if p in TRAPS} == set(TRAPS)  # every trap was seeded
    flagged = {r["resourceId"] for r in recs}
    windows = {i for i, p in profiles.items() if p == "idle-windows"}
    assert windows
    assert windows <= flagged

    # Thin data never yields a confident finding; every finding is priced at list prices in USD or
    # published unpriced with its reason, after the priced ones.
    thin = {label.resource_id for label in truth.labels if label.profile == "thin"}
    assert thin
    unpriced = [r for r in recs if r["monthlySavings"] is None]
    for r in recs:
        if r["resourceId"] in thin:
            assert r["confidence"] == "low"
        assert r["evidence"], r["id"]
        if r["monthlySavings"] is None:
            assert r["unpricedReason"].startswith("no list price for "), r
            assert r["region"] == "eu-west-3" or r["module"] in BOOK_GAPS, r
            continue
        assert r["monthlySavings"]["currency"] == "USD"
        assert Decimal(r["monthlySavings"]["amount"]) > 0
        assert r["priceBasis"] == "list"
    assert {r["region"] for r in recs if r["monthlySavings"] is not None} == {"us-east-1", "eu-west-3"}
    assert recs[-len(unpriced) :] == unpriced
    assert report["summary"]["unpriced"] == len(unpriced) > 0
    # Unpriced findings name what has no price: in eu-west-3, or what the book has no figure for.
    assert all(f" in {r['region']}: " in r["unpricedReason"] for r in unpriced)
    assert {r["module"] for r in unpriced if r["region"] != "eu-west-3"} <= BOOK_GAPS
    # Idle instances in Paris, Linux and Windows, are priced now; Windows ones at the Windows price
    # (the emulator launches them from an AMI whose platform is windows, as AWS reports it).
    assert all(r["monthlySavings"] is not None for r in recs if r["module"] == "aws.ec2.idle")
    _assert_windows_priced_as_windows(recs, windows)

    # One finding per resource; the total is the sum of the priced parts.
    assert len({r["resourceId"] for r in recs}) == len(recs)
    total = sum(Decimal(r["monthlySavings"]["amount"]) for r in recs if r["monthlySavings"] is not None)
    assert Decimal(report["summary"]["monthlySavings"]["amount"]) == total
    by_category = sum(
        Decimal(v["monthlySavings"]["amount"]) for v in report["summary"]["byCategory"].values()
    )
    assert by_category == total

    # GetMetricData calls: no more than the lower bound plus one per region.
    queries_per_region = _metric_queries(recs_kinds=_kinds_by_region(truth))
    bound = sum(math.ceil(q / 500) for q in queries_per_region.values())
    assert 0 < report["apiCalls"]["cloudwatch.GetMetricData"] <= bound + len(REGIONS)


def _assert_windows_priced_as_windows(recs: list[dict[str, Any]], windows: set[str]) -> None:
    book = aws_prices.bundled()
    checked = 0
    for r in recs:
        if r["resourceId"] in windows and r["module"] == "aws.ec2.idle":
            itype = r["current"]["instanceType"]
            hourly = book.instance_hourly(r["region"], itype, "windows")
            assert hourly is not None, r
            assert hourly > (book.instance_hourly(r["region"], itype) or 0), r
            assert Decimal(r["monthlySavings"]["amount"]) >= (hourly * 730).quantize(Decimal("0.01")), r
            checked += 1
    assert checked == len(windows)


def _kinds_by_region(truth: object) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for label in truth.labels:  # type: ignore[attr-defined]
        counts.setdefault(label.region, Counter())[label.kind] += 1
    return counts


def _metric_queries(recs_kinds: dict[str, Counter[str]]) -> dict[str, int]:
    """An upper estimate of queries per region: every resource x every metric x 4 statistics."""
    needs: Counter[str] = Counter()
    for module in registry.all_modules():
        for need in set(module.spec.metrics):
            needs[need.kind] += 0
    metrics_per_kind = {
        kind: len({n.metric for m in registry.all_modules() for n in m.spec.metrics if n.kind == kind})
        for kind in needs
    }
    return {
        region: sum(count * metrics_per_kind.get(kind, 0) * 4 for kind, count in kinds.items())
        for region, kinds in recs_kinds.items()
    }


def test_outputs_agree_and_history_is_kept(
    aws_env: AwsEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_estate(aws_env.url, seed=5, regions=REGIONS[:1], account_id=ACCOUNT, lookback_days=14, scale=0.5)
    path = manifests(tmp_path, lookback=14)
    code, first = scan_json(path, tmp_path, capsys)
    assert code == 0
    ids = [r["id"] for r in first["recommendations"]]
    assert ids
    # Same estate, second scan: identical ids (stable), and CSV carries the same rows.
    code, second = scan_json(path, tmp_path, capsys)
    assert [r["id"] for r in second["recommendations"]] == ids
    assert main(["scan", "-f", str(path), "-o", "csv", "--no-store"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == ids
    assert main(["scan", "-f", str(path), "-o", "html", "--no-store"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!doctype html>")
    assert first["summary"]["monthlySavings"]["amount"] in page
    repo = SqlRepository.sqlite(tmp_path / "data")
    assert len(repo.scans("team-x")) == 2
    assert sorted(s.finding.id for s in repo.findings("team-x")) == sorted(ids)


def test_findings_gate_and_threshold(
    aws_env: AwsEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_estate(aws_env.url, seed=5, regions=REGIONS[:1], account_id=ACCOUNT, lookback_days=14, scale=0.5)
    path = manifests(tmp_path, lookback=14)
    assert main(["scan", "-f", str(path), "--no-store", "-o", "json", "--fail-on-findings"]) == 1
    capsys.readouterr()
    assert main(["scan", "-f", str(path), "--no-store", "-o", "json", "--fail-above", "1000000"]) == 0
    capsys.readouterr()
    code, high_floor = scan_json(
        manifests(tmp_path, lookback=14, min_savings="100000"), tmp_path, capsys, "--no-store"
    )
    assert code == 0
    # Only unpriced findings (RDS snapshots, previous-generation RDS classes) pass a floor they cannot
    # be held to.
    assert {r["module"] for r in high_floor["recommendations"]} <= BOOK_GAPS
    assert all(r["monthlySavings"] is None for r in high_floor["recommendations"])
    assert high_floor["summary"]["belowThreshold"] > 0


def test_wrong_account_is_reported_with_reason_and_no_secret(
    aws_env: AwsEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        manifests(tmp_path)
        .read_text()
        .replace(f"roleArn: arn:aws:iam::{ACCOUNT}", "roleArn: arn:aws:iam::999999999999")
    )
    code = main(["scan", "-f", str(path), "--no-store", "-o", "json"])
    captured = capsys.readouterr()
    assert code == 3  # the account could not be scanned
    report = json.loads(captured.out)
    assert report["summary"]["errors"][0]["reason"] == "AccountMismatch"
    assert "CloudAccount/unseen" in captured.err
    assert BASE_SECRET not in captured.out + captured.err


def test_an_unknown_region_is_an_input_error_naming_the_field(
    aws_env: AwsEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto answers in any region; botocore's endpoint data says which regions exist."""
    path = tmp_path / "nowhere.yaml"
    path.write_text(manifests(tmp_path).read_text().replace("eu-west-3", "zz-nowhere-9"))
    code = main(["scan", "-f", str(path), "--no-store", "-o", "json"])
    captured = capsys.readouterr()
    assert code == 2
    error = json.loads(captured.out)["summary"]["errors"][0]
    assert error["reason"] == "UnknownRegion"
    assert "spec.aws.regions[1]: 'zz-nowhere-9' is not an AWS region" in captured.err
    assert "Traceback" not in captured.err
