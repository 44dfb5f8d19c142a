"""The GCP provider against the emulator over the SDKs' real protocols: accuracy, calls, isolation."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from google.api_core import exceptions as gexc
from google.oauth2 import service_account

from cloudios.domain import Confidence, Metric
from cloudios.domain.gcp import GCE_INSTANCE
from cloudios.emulators.gcp.estate import Estate
from cloudios.emulators.gcp.server import GcpEmulator
from cloudios.providers.base import ProviderError
from cloudios.providers.gcp import auth, collect, metrics
from cloudios.providers.gcp.calls import CallCounter
from cloudios.providers.gcp.settings import GcpEndpoints
from tests.providers.gcp_helpers import FAST, key_credentials, published, request, scan, score
from tests.support.gcp import PROJECT_A, PROJECT_B

pytestmark = pytest.mark.gcp


def test_scan_finds_what_the_estate_says_with_precision_and_recall(
    gcp_emulator: GcpEmulator, gcp_estates: dict[str, Estate]
) -> None:
    result = scan(gcp_emulator, PROJECT_A)
    estate = gcp_estates[PROJECT_A]
    assert len(result.snapshot.resources) == len(estate.resources)
    scores = score(estate, published(result))
    assert set(scores) == {
        "gcp.compute.idle", "gcp.compute.rightsize", "gcp.disk.unattached",
        "gcp.address.unused", "gcp.snapshot.old", "gcp.sql.idle",
    }  # fmt: skip
    for module, (precision, recall) in scores.items():
        assert precision >= 0.95, (module, precision)
        assert recall >= 0.95, (module, recall)


def test_thin_bursty_and_batch_vms_get_no_confident_finding(
    gcp_emulator: GcpEmulator, gcp_estates: dict[str, Estate]
) -> None:
    findings = published(scan(gcp_emulator, PROJECT_A))
    names = {r.id: r.name for r in gcp_estates[PROJECT_A].resources}
    quiet = [
        f for f in findings if names.get(f.resource_id, "").startswith(("vm-thin", "vm-bursty", "vm-batch"))
    ]
    assert quiet == []
    thin = [r for r in gcp_estates[PROJECT_A].resources if r.name.startswith("vm-thin")]
    assert thin, "the sample estate has thin-data VMs"
    assert all(
        f.confidence is not Confidence.HIGH or (f.evidence.get("daysOfData") or 99) >= 14 for f in findings
    )


def test_metric_calls_are_at_the_lower_bound_and_every_call_is_counted(gcp_emulator: GcpEmulator) -> None:
    before = gcp_emulator.wire.calls.copy()
    result = scan(gcp_emulator, PROJECT_A)
    served = gcp_emulator.wire.calls - before
    resources = result.snapshot.resources
    needs = {}
    for need in request(PROJECT_A, None).metrics:
        needs.setdefault(need.kind, []).append(need.metric)
    pairs = len(metrics.plan(resources, needs))
    # (metric type, aligner) pairs x pages: every page here fits in 100,000 points.
    assert result.api_calls["monitoring.ListTimeSeries"] == pairs == 8
    assert pairs < sum(1 for r in resources if r.kind == "gce.instance")
    for key, n in result.api_calls.items():
        assert served[key] == n, key  # the client counts exactly what the server saw


def test_small_pages_cost_one_call_per_page(gcp_emulator: GcpEmulator) -> None:
    tuning = FAST.__class__(**{**FAST.__dict__, "monitoring_page_size": 100, "compute_page_size": 5})
    result = scan(gcp_emulator, PROJECT_A, tuning=tuning)
    vms = sum(1 for r in result.snapshot.resources if r.kind == "gce.instance")
    assert result.api_calls["compute.instances.aggregatedList"] == math.ceil(vms / 5)
    assert result.api_calls["monitoring.ListTimeSeries"] > 8
    assert published(result) == published(scan(gcp_emulator, PROJECT_A))


def test_two_projects_scanned_concurrently_never_mix(
    gcp_emulator: GcpEmulator, gcp_estates: dict[str, Estate]
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.map(lambda p: scan(gcp_emulator, p), [PROJECT_A, PROJECT_B])
    for project, result in ((PROJECT_A, a), (PROJECT_B, b)):
        ids = {r.id for r in gcp_estates[project].resources}
        assert {r.account_id for r in result.snapshot.resources} == {project}
        assert {r.id for r in result.snapshot.resources if r.kind != "cloudsql.instance"} <= ids
        assert set(result.snapshot.metrics) <= {r.id for r in result.snapshot.resources}
        assert all(f.account_id == project for f in published(result))


def test_a_key_of_one_project_cannot_read_another(gcp_emulator: GcpEmulator) -> None:
    creds = key_credentials(gcp_emulator.service_account_key(PROJECT_A))
    endpoints = GcpEndpoints.from_environment(gcp_emulator.environment())
    with pytest.raises(ProviderError) as caught:
        collect.collect(request(PROJECT_B, creds), tuning=FAST, endpoints=endpoints)
    assert caught.value.reason == "PermissionDenied"
    assert "docs/providers/gcp.md" in caught.value.message


def test_throttling_on_the_wire_is_retried_and_counted(gcp_emulator: GcpEmulator) -> None:
    baseline = published(scan(gcp_emulator, PROJECT_B))
    gcp_emulator.wire.fail_next("monitoring", 3)
    gcp_emulator.wire.fail_next("compute", 2)
    gcp_emulator.wire.fail_next("sqladmin", 1)
    result = scan(gcp_emulator, PROJECT_B)
    retries = {k: n for k, n in result.api_calls.items() if k.endswith(".retries")}
    assert retries.get("monitoring.ListTimeSeries.retries") == 3
    assert sum(n for k, n in retries.items() if k.startswith("compute.")) == 2
    assert retries.get("sqladmin.instances.list.retries") == 1
    assert [f.id for f in published(result)] == [f.id for f in baseline]


def test_throttling_that_never_ends_is_a_throttled_error(gcp_emulator: GcpEmulator) -> None:
    tuning = FAST.__class__(**{**FAST.__dict__, "retry_deadline": 0.3})
    gcp_emulator.wire.fail_next("monitoring", 10_000)
    try:
        with pytest.raises(ProviderError) as caught:
            scan(gcp_emulator, PROJECT_B, tuning=tuning)
    finally:
        gcp_emulator.wire.fail_next("monitoring", -gcp_emulator.wire._faults["monitoring"])
    assert caught.value.reason == "Throttled"


def test_the_emulator_refuses_percentile_aligners_on_double_gauges_as_google_does(
    gcp_emulator: GcpEmulator,
) -> None:
    """Why the provider asks MEAN and MAX only: ALIGN_PERCENTILE_* needs distribution values."""
    creds = service_account.Credentials.from_service_account_info(
        gcp_emulator.service_account_key(PROJECT_A), scopes=list(auth.SCOPES)
    )
    endpoints = GcpEndpoints.from_environment(gcp_emulator.environment())
    session = auth.ProjectSession(PROJECT_A, creds, endpoints, FAST, CallCounter())
    cpu = metrics.METRIC_MAP[(GCE_INSTANCE, Metric.CPU_UTILIZATION)]
    start, end = metrics.window(datetime.now(UTC), 7)
    percentile = metrics.Query(Metric.CPU_UTILIZATION, cpu, "ALIGN_PERCENTILE_95").request(
        PROJECT_A, start, end, 1000
    )
    with pytest.raises(gexc.InvalidArgument, match="ALIGN_PERCENTILE_95"):
        list(session.monitoring().list_time_series(request=percentile))
