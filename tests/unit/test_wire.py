"""The agent's wire contract: round trips, strict refusal of unknown or malformed fields, bounded bodies."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime

import pytest

from cloudios_agent import wire
from cloudios_agent.sketch import Sketch

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _report() -> wire.Report:
    cpu = Sketch.of([100, 120, 900, 0])
    mem = Sketch.of([2**28, 2**29])
    return wire.Report(
        stream="ab12",
        sequence=1,
        sent_at=NOW,
        agent_version="0.1.0",
        inventory=wire.Inventory(
            taken_at=NOW,
            nodes=(
                wire.Node(
                    "n1",
                    NOW,
                    wire.Resources(4000, 16 * 2**30),
                    wire.Resources(3900, 15 * 2**30),
                    "m5.xlarge",
                    "eu-west-3",
                    "eu-west-3a",
                    "aws:///eu-west-3a/i-0abc",
                    "spot",
                    "amd64",
                ),
            ),
            workloads=(wire.Workload("shop", "Deployment", "web", NOW, 3, wire.Hpa(2, 10, ("cpu",))),),
            pods=(
                wire.Pod(
                    "shop",
                    "web-1",
                    "Deployment",
                    "web",
                    "Running",
                    (wire.Container("app", wire.Resources(500, 2**30), wire.Resources(None, 2**31), 2, NOW),),
                    "n1",
                    NOW,
                    ("data",),
                ),
            ),
            claims=(wire.Claim("shop", "data", "Bound", NOW, 10 * 2**30, "gp3", "pv-1"),),
            volumes=(
                wire.Volume(
                    "pv-1", "Bound", NOW, 10 * 2**30, "gp3", "shop/data", "ebs.csi.aws.com", "vol-0abc"
                ),
            ),
            load_balancers=(wire.LoadBalancer("shop", "front", NOW, 0),),
            namespaces=(wire.Namespace("shop", NOW),),
        ),
        usage=(
            wire.ContainerUsage(
                "shop",
                "Deployment",
                "web",
                "app",
                "hour",
                NOW,
                "metrics-api",
                wire.Summary.of(cpu),
                wire.Summary.of(mem),
            ),
        ),
    )


def test_round_trip_keeps_every_field() -> None:
    report = _report()
    again = wire.parse_report(json.loads(wire.encode_report(report)))
    assert again == report
    assert again.usage[0].cpu.sketch.quantile(1.0) == 900
    assert again.usage[0].cpu.sketch.quantile(0.5) == pytest.approx(100, rel=0.02)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda b: b["inventory"]["pods"][0]["containers"][0].update(env=[{"name": "X", "value": "s"}]),
            "inventory.pods[0].containers[0].env",
        ),
        (lambda b: b["inventory"]["pods"][0].update(annotations={"a": "b"}), "inventory.pods[0].annotations"),
        (lambda b: b.update(cluster="someone-else"), "cluster"),
        (lambda b: b.update(version=2), "version"),
        (
            lambda b: b["inventory"]["nodes"][0].update(capacityType="reserved"),
            "inventory.nodes[0].capacityType",
        ),
        (lambda b: b["usage"][0]["cpu"].update(samples=99), "usage[0].cpu.sketch"),
        (lambda b: b["inventory"]["pods"][0].update(name="x" * 300), "inventory.pods[0].name"),
        (lambda b: b["inventory"]["pods"][0].update(name="a\nb"), "inventory.pods[0].name"),
        (lambda b: b.update(sentAt="yesterday"), "sentAt"),
        (lambda b: b.update(sequence=0), "sequence"),
        (lambda b: b["usage"][0]["memory"].update(avg=float("nan")), "usage[0].memory.avg"),
    ],
)
def test_strict_refusals_name_the_field(mutate: object, path: str) -> None:
    body = json.loads(wire.encode_report(_report()))
    mutate(body)  # type: ignore[operator]
    with pytest.raises(wire.WireError) as err:
        wire.parse_report(body)
    assert path in str(err.value)


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"[" + b" " * (200 * 2**20) + b"]")
    with pytest.raises(wire.WireError) as err:
        wire.read_body(bomb, encoding="gzip", max_bytes=wire.MAX_INFLATED_BYTES, max_depth=wire.MAX_DEPTH)
    assert err.value.status == 413


def test_deep_nesting_and_bad_encodings_are_refused() -> None:
    deep = b"[" * 100 + b"]" * 100
    with pytest.raises(wire.WireError, match="nested deeper"):
        wire.read_body(deep, encoding=None, max_bytes=2**20, max_depth=wire.MAX_DEPTH)
    very_deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(wire.WireError, match="nested deeper"):
        wire.read_body(very_deep, encoding=None, max_bytes=2**20, max_depth=wire.MAX_DEPTH)
    with pytest.raises(wire.WireError) as err:
        wire.read_body(b"{}", encoding="br", max_bytes=2**20, max_depth=8)
    assert err.value.status == 415
    with pytest.raises(wire.WireError, match="gzip"):
        wire.read_body(b"not gzip", encoding="gzip", max_bytes=2**20, max_depth=8)


def test_sketch_quantiles_are_within_two_percent_and_merge() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(5, 1.5) for _ in range(20_000)]
    a, b = Sketch.of(values[:10_000]), Sketch.of(values[10_000:])
    a.merge(b)
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[int(q * (len(ordered) - 1))]
        assert a.quantile(q) == pytest.approx(exact, rel=0.021)
    assert a.quantile(1.0) == max(values)
    assert Sketch().quantile(0.5) is None
