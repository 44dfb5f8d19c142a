"""Agent usage: exact quantities; hourly and daily summaries over two days of 30-s samples (fake clock)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from cloudios_agent import quantity, wire
from cloudios_agent.collect import OTHER_KINDS, WORKLOAD_KINDS
from cloudios_agent.kube import scan_list
from cloudios_agent.usage import PodSample, UsageAggregator, metrics_api, parse_pod_metrics

START = datetime(2026, 3, 1, 0, 0, 10, tzinfo=UTC)
RBAC = Path(__file__).parents[2] / "agent" / "cloudios_agent" / "rbac.json"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Fraction(1, 4)),
        ("1", Fraction(1)),
        ("1.5", Fraction(3, 2)),
        ("12345n", Fraction(12345, 10**9)),
        ("7u", Fraction(7, 10**6)),
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("123456Ki", 123456 * 1024),
        ("1e3", 1000),
        ("2E-3", Fraction(2, 1000)),
        ("500M", 500 * 10**6),
        ("0.5Gi", 2**29),
        (".5", Fraction(1, 2)),
    ],
)
def test_quantities_parse_exactly(text: str, value: Fraction | int) -> None:
    assert quantity.parse(text) == value


def test_quantity_conversions_round_like_kubernetes() -> None:
    assert quantity.millicores("12345n") == pytest.approx(0.012345, rel=1e-12)
    assert quantity.millicores_ceil("100001n") == 1  # MilliValue() rounds up
    assert quantity.millicores_ceil("2") == 2000
    assert quantity.bytes_ceil("1.5Ki") == 1536
    assert quantity.maybe(quantity.bytes_ceil, "lots") is None
    assert quantity.maybe(quantity.bytes_ceil, None) is None
    for bad in ("", "1Q", "1e999999", "--1", "1 Gi", "x" * 100):
        with pytest.raises(quantity.QuantityError):
            quantity.parse(bad)


def _doc(values: dict[tuple[str, str], tuple[float, float]], stamp: str) -> dict[str, object]:
    """A PodMetricsList: values are (CPU millicores, memory bytes), sent as nanocores and bytes."""
    return {
        "items": [
            {
                "metadata": {"namespace": "shop", "name": pod},
                "timestamp": stamp,
                "containers": [
                    {"name": container, "usage": {"cpu": f"{round(cpu * 1e6)}n", "memory": f"{int(mem)}"}}
                ],
            }
            for (pod, container), (cpu, mem) in values.items()
        ]
    }


def _samples(values: dict[tuple[str, str], tuple[float, float]], stamp: str) -> list[PodSample]:
    return list(parse_pod_metrics(_doc(values, stamp)))


def _resolve(namespace: str, pod: str) -> tuple[str, str]:
    return ("Deployment", pod.rsplit("-", 1)[0]) if pod.startswith("web") else ("Pod", pod)


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def test_two_days_of_samples_summarize_per_hour_and_day_within_two_percent() -> None:
    rng = random.Random(7)
    pods = [("web-a", "app"), ("web-b", "app"), ("batch", "worker")]
    truth: dict[tuple[str, datetime], dict[str, list[float]]] = {}
    agg = UsageAggregator()
    emitted: list[wire.ContainerUsage] = []
    now = START
    step = timedelta(seconds=30)
    for i in range(2 * 24 * 120 + 1):  # two days of 30-s samples, plus one that closes the second day
        values = {
            key: (rng.lognormvariate(4.5 if key[0] != "batch" else 6, 0.6), rng.uniform(2**27, 2**29))
            for key in pods
        }
        added = agg.add(_samples(values, f"t{i}"), now, _resolve)
        assert added == len(pods)
        if i < 2 * 24 * 120:
            for (pod, _), (cpu, mem) in values.items():
                workload = _resolve("shop", pod)[1]
                for period in ("hour", "day"):
                    start = (
                        now.replace(minute=0, second=0)
                        if period == "hour"
                        else now.replace(hour=0, minute=0, second=0)
                    )
                    bucket = truth.setdefault((f"{period}:{workload}", start), {"cpu": [], "mem": []})
                    bucket["cpu"].append(round(cpu * 1e6) / 1e6)  # millicores, sent as nanocores
                    bucket["mem"].append(float(int(mem)))
        emitted += agg.take_closed()
        now += step
    # Every hour and both days closed, none emitted twice, nothing still open but the current period.
    hours = [u for u in emitted if u.period == "hour"]
    days = [u for u in emitted if u.period == "day"]
    assert len(hours) == 48 * 2  # two workloads (web-a and web-b share Deployment web)
    assert len(days) == 2 * 2
    assert len({(u.workload_name, u.period, u.start) for u in emitted}) == len(emitted)
    for u in emitted:
        assert u.source == "metrics-api"
        assert u.workload_kind == ("Deployment" if u.workload_name == "web" else "Pod")
        samples = truth[(f"{u.period}:{u.workload_name}", u.start.replace(second=0))]
        # CPU in millicores: the sample's nanocores parsed exactly.
        for summary, values in ((u.cpu, samples["cpu"]), (u.memory, samples["mem"])):
            assert summary.samples == len(values)
            assert summary.max == pytest.approx(max(values), rel=1e-9)
            assert summary.avg == pytest.approx(sum(values) / len(values), rel=1e-9)
            assert summary.p95 == pytest.approx(_exact(values, 0.95), rel=0.02)
            assert summary.p99 == pytest.approx(_exact(values, 0.99), rel=0.02)
    day_web = next(u for u in days if u.workload_name == "web")
    assert day_web.cpu.samples == 2 * 24 * 120  # two replicas x 2,880 samples


def test_a_period_is_emitted_only_after_it_closes_and_round_trips_the_wire() -> None:
    agg = UsageAggregator()
    t0 = datetime(2026, 3, 1, 10, 59, 30, tzinfo=UTC)
    agg.add(_samples({("web-a", "app"): (200.0, 2**28)}, "a"), t0, _resolve)
    assert agg.take_closed() == []
    agg.add(_samples({("web-a", "app"): (300.0, 2**28)}, "b"), t0 + timedelta(seconds=29), _resolve)
    assert agg.take_closed() == []
    agg.add(_samples({("web-a", "app"): (400.0, 2**28)}, "c"), t0 + timedelta(seconds=30), _resolve)
    closed = agg.take_closed()
    assert [(u.period, u.start.hour, u.cpu.samples) for u in closed] == [("hour", 10, 2)]
    report = wire.Report("ab", 1, t0, "t", usage=tuple(closed))
    assert wire.parse_report(json.loads(wire.encode_report(report))).usage[0].cpu.max == pytest.approx(300.0)


def test_a_repeated_metrics_timestamp_is_not_counted_twice() -> None:
    agg = UsageAggregator()
    doc = _samples({("web-a", "app"): (0.2, 2**28)}, "same")
    assert agg.add(doc, START, _resolve) == 1
    assert agg.add(doc, START + timedelta(seconds=30), _resolve) == 0
    assert (
        agg.add(_samples({("web-a", "app"): (0.2, 2**28)}, "next"), START + timedelta(seconds=60), _resolve)
        == 1
    )


def test_malformed_metrics_are_skipped_not_fatal() -> None:
    doc = {
        "items": [
            "junk",
            {
                "metadata": {"namespace": "a", "name": "p"},
                "containers": [{"name": "c", "usage": {"cpu": "lots"}}],
            },
            {
                "metadata": {"namespace": "a", "name": "q"},
                "containers": [{"name": "c", "usage": {"cpu": "1m", "memory": "1Ki"}}],
            },
        ]
    }
    samples = list(parse_pod_metrics(doc))
    assert [(s.pod, s.containers[0].cpu_m, s.containers[0].memory_bytes) for s in samples] == [
        ("q", 1.0, 1024.0)
    ]
    assert list(parse_pod_metrics(None)) == []


def test_rbac_rules_cover_exactly_what_the_agent_watches() -> None:
    rules = json.loads(RBAC.read_text())["rules"]
    watched = {path.rsplit("/", 1)[1] for path, _ in OTHER_KINDS.values()} | set(WORKLOAD_KINDS)
    granted = {r for rule in rules if rule["verbs"] == ["list", "watch"] for r in rule["resources"]}
    assert granted == watched
    verbs = {v for rule in rules for v in rule["verbs"]}
    assert verbs <= {"get", "list", "watch"}
    metrics = [rule for rule in rules if "metrics.k8s.io" in rule["apiGroups"]]
    assert metrics == [
        {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": ["get", "list"]}
    ]
    assert not {"secrets", "configmaps", "pods/log", "pods/exec"} & {
        r for rule in rules for r in rule["resources"]
    }


def test_lists_are_decoded_item_by_item_exactly_as_json_would() -> None:
    doc = _doc({("web-a", "app"): (200.0, 2**28), ("web-b", "app"): (1.5, 3)}, "s")
    doc = {"kind": "PodMetricsList", "metadata": {"resourceVersion": "7", "continue": ""}, **doc}
    for text in (json.dumps(doc), json.dumps(doc, indent=3), json.dumps(doc, separators=(",", ":"))):
        members: dict[str, object] = {}
        assert list(scan_list(text, members)) == doc["items"]
        assert members == {"kind": "PodMetricsList", "metadata": {"resourceVersion": "7", "continue": ""}}
        assert list(metrics_api(lambda _path, t=text: t)()) == list(parse_pod_metrics(doc))
    assert list(scan_list('{"items": [], "metadata": {}}', {})) == []
    assert list(scan_list(" { } ", {})) == []
    for bad in ('{"items": [1 2]}', '{"items": [1,', "[1]", '{"a" 1}', ""):
        with pytest.raises(ValueError):
            list(scan_list(bad, {}))
