"""The history backfill's parts that need no Prometheus: names, settings, plans, the HTTP client."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from cloudios_agent.history import BackfillSettings, batch_namespaces, make_plan
from cloudios_agent.history_query import PrometheusClient, PrometheusError, PrometheusSource
from cloudios_agent.history_rows import workload_from_pod_name

DAY = 86400


@pytest.mark.parametrize(
    ("pod", "known", "expected"),
    [
        ("web-7d9f8b6c5d-xk2lp", {}, ("Deployment", "web")),
        ("api-gateway-5c8d7f9b6d-tm2vz", {}, ("Deployment", "api-gateway")),
        ("db-0", {}, ("StatefulSet", "db")),
        ("kafka-broker-12", {}, ("StatefulSet", "kafka-broker")),
        ("report-28912345-x7k2p", {}, ("CronJob", "report")),
        ("node-agent-b7k2p", {"node-agent": "DaemonSet"}, ("DaemonSet", "node-agent")),
        ("migrate-b7k2p", {"migrate": "Job"}, ("Job", "migrate")),
        ("migrate-b7k2p", {}, ("Pod", "migrate-b7k2p")),  # DaemonSet or Job: not guessed
        ("debug-shell", {}, ("Pod", "debug-shell")),
        ("web-release-abcde", {}, ("Pod", "web-release-abcde")),  # vowels: not a generated suffix
        # A current StatefulSet named like a ReplicaSet-hash guess wins over the pattern.
        ("web-7d9f8b6c5d-xk2lp", {"web-7d9f8b6c5d": "StatefulSet"}, ("StatefulSet", "web-7d9f8b6c5d")),
    ],
)
def test_workload_from_pod_name(pod: str, known: dict[str, str], expected: tuple[str, str]) -> None:
    assert workload_from_pod_name(pod, known) == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"days": 91}, "days must be 1..90"),
        ({"step_seconds": 7}, "divide an hour"),
        ({"step_seconds": 700}, "divide an hour"),
        ({"concurrency": 0}, "concurrency"),
        ({"max_points_per_series": 23, "step_seconds": 3600}, "cover at least one day"),
        ({"selector": 'job="kubelet"}'}, "without braces"),
    ],
)
def test_settings_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BackfillSettings(**changes)  # type: ignore[arg-type]


def test_plan_window_chunks_and_query_count() -> None:
    now = 1_800_000_000 + 5 * 3600 + 1234  # 5 h 20 min past midnight UTC
    settings = BackfillSettings()
    batches = batch_namespaces([f"ns{i:03}" for i in range(100)], {}, settings)
    plan = make_plan(settings, now, batches)
    assert plan.end == now // 3600 * 3600
    assert plan.start == plan.end // DAY * DAY - 89 * DAY  # 89 whole days and today's hours
    assert (len(plan.batches), len(plan.chunks), plan.queries) == (10, 6, 2 * 10 * 6)
    assert plan.chunks[0][0] == plan.start
    assert plan.chunks[-1][1] == plan.end
    assert all(b - a == 15 * DAY for a, b in plan.chunks[:-1])
    assert 'job="kubelet"' in make_plan(BackfillSettings(selector='job="kubelet"'), now, batches).query(
        "cpu", ["a"]
    )


def test_namespaces_are_packed_by_count_and_pods() -> None:
    settings = BackfillSettings(namespaces_per_batch=3, pods_per_batch=100)
    counts = {"big": 250, "a": 10, "b": 10, "c": 10, "d": 60, "e": 50}
    # A namespace over the pod limit gets a batch of its own.
    assert batch_namespaces(counts, counts, settings) == (("a", "b"), ("big",), ("c", "d"), ("e",))
    # Names that cannot be namespaces never reach a regex.
    assert batch_namespaces(["ok", 'x"|.*', "UPPER"], {}, settings) == (("ok",),)


def answer(status: int, body: object) -> httpx.MockTransport:
    return httpx.MockTransport(lambda _request: httpx.Response(status, json=body))


MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"namespace": "a", "pod": "p", "container": "c"}, "values": [[3600, "0.5"], [7200, "NaN"]]},
]}}  # fmt: skip


def test_bearer_token_is_read_from_its_file_for_every_query(tmp_path: Path) -> None:
    token = tmp_path / "token"
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=MATRIX)

    source = PrometheusSource("https://prometheus.example:9090", token_file=token)
    with PrometheusClient(source, transport=httpx.MockTransport(handler)) as client:
        token.write_text("first\n")
        series = client.query_range("cpu", "up", 0, 3600, 3600)
        token.write_text("rotated")
        client.query_range("cpu", "up", 0, 3600, 3600)
    assert seen == ["Bearer first", "Bearer rotated"]
    assert series[0].points == [(3600, 0.5)]  # NaN dropped
    assert client.queries_sent == 2


def test_a_token_or_ca_is_refused_over_plain_http(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only sent over https"):
        PrometheusSource("http://prometheus:9090", token_file=tmp_path / "t")
    with pytest.raises(ValueError, match="only applies to an https"):
        PrometheusSource("http://prometheus:9090", ca_file=tmp_path / "ca")
    with pytest.raises(ValueError, match="must start with"):
        PrometheusSource("prometheus:9090")


@pytest.mark.parametrize(
    ("transport", "message"),
    [
        (answer(503, {"status": "error", "errorType": "unavailable", "error": "overloaded"}),
         "HTTP 503: unavailable: overloaded"),
        (answer(422, {"status": "error", "errorType": "execution", "error": "x" * 1000}),
         "HTTP 422: execution: "),
        (httpx.MockTransport(lambda _r: httpx.Response(502, text="<html>bad gateway</html>")),
         "HTTP 502: answer is not JSON"),
        (answer(200, {"status": "success", "data": {"resultType": "vector", "result": []}}), "not a matrix"),
        (answer(200, {"status": "success", "data": {"resultType": "matrix", "result": [{"values": [[1]]}]}}),
         "malformed series"),
    ],
    ids=["503", "long-422", "not-json", "not-matrix", "malformed"],
)  # fmt: skip
def test_failures_name_the_query(transport: httpx.MockTransport, message: str) -> None:
    with (
        PrometheusClient(PrometheusSource("http://p:9090"), transport=transport) as client,
        pytest.raises(PrometheusError) as caught,
    ):
        client.query_range("memory[namespace batch 2/3, 2026-01-01..2026-01-15]", "up", 0, 3600, 3600)
    assert caught.value.name == "memory[namespace batch 2/3, 2026-01-01..2026-01-15]"
    assert message in caught.value.message
    assert len(caught.value.message) < 400


def test_a_timeout_is_a_named_failure() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    source = PrometheusSource("http://p:9090", timeout_seconds=5)
    with PrometheusClient(source, transport=httpx.MockTransport(slow)) as client:
        with pytest.raises(PrometheusError, match=r"^cpu\[x\]: timed out after 5 s$"):
            client.query_range("cpu[x]", "up", 0, 3600, 3600)
        assert client.queries_sent == 1


def test_checkpoint_survives_a_json_round_trip() -> None:
    settings = BackfillSettings(network=True)
    plan = make_plan(settings, 1_800_000_000, (("a", "b"), ("c",)))
    from cloudios_agent.history import Plan  # noqa: PLC0415

    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_a_missing_prometheus_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import prometheus as support  # noqa: PLC0415

    monkeypatch.setattr(support.shutil, "which", lambda _name: None)
    with pytest.raises(support.PrometheusMissingError, match="make testdeps"):
        support.tools()
