"""Shared pieces of the GCP provider tests: requests, keys and scoring against an estate's truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from cloudios.api.cloudaccount import CloudAccountSpec
from cloudios.domain import Finding
from cloudios.emulators.gcp import sample
from cloudios.emulators.gcp.estate import Estate
from cloudios.emulators.gcp.server import GcpEmulator
from cloudios.modules import registry
from cloudios.pipeline.dedupe import dedupe
from cloudios.pricing import gcp as gcp_pricing
from cloudios.pricing import savings
from cloudios.providers.base import CollectRequest, CollectResult
from cloudios.providers.gcp import collect
from cloudios.providers.gcp.credentials import GcpKeyCredentials
from cloudios.providers.gcp.settings import GcpEndpoints, GcpTuning

MODULES = registry.for_provider("gcp")
FAST = GcpTuning(retry_initial=0.01, retry_maximum=0.05, retry_deadline=10.0, timeout=10.0)


def key_credentials(info: dict[str, str]) -> GcpKeyCredentials:
    return GcpKeyCredentials(client_email=info["client_email"], info=info)


def account(project: str, **gcp: Any) -> CloudAccountSpec:
    return CloudAccountSpec.model_validate({"provider": "gcp", "gcp": {"projectId": project, **gcp}})


def request(
    project: str, credentials: GcpKeyCredentials | None, lookback: int = 30, **gcp: Any
) -> CollectRequest:
    return CollectRequest(
        tenant="team-a",
        account_name=project,
        account=account(project, **gcp),
        lookback_days=lookback,
        kinds=frozenset(k for m in MODULES for k in m.spec.resource_kinds),
        metrics=tuple(dict.fromkeys(n for m in MODULES for n in m.spec.metrics)),
        end=datetime.now(UTC),
        credentials=credentials,
        max_concurrency=4,
    )


def scan(
    emulator: GcpEmulator, project: str, *, tuning: GcpTuning = FAST, lookback: int = 30
) -> CollectResult:
    creds = key_credentials(emulator.service_account_key(project))
    endpoints = GcpEndpoints.from_environment(emulator.environment())
    return collect.collect(request(project, creds, lookback), tuning=tuning, endpoints=endpoints)


def published(result: CollectResult) -> list[Finding]:
    """What the pipeline would publish: every module, priced, one finding per resource."""
    book = gcp_pricing.bundled()
    found = []
    for module in MODULES:
        for finding in module.run(result.snapshot):
            money = savings(finding, book)
            found.append(finding if money is None else finding.model_copy(update={"monthly_savings": money}))
    return dedupe(found)


def score(estate: Estate, findings: list[Finding]) -> dict[str, tuple[float, float]]:
    """(precision, recall) per module against the estate's truth labels."""
    expected = sample.expected(estate)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    got = {(f.resource_id, f.module) for f in findings}
    for rid, module in got:
        (tp if expected.get(rid) == module else fp)[module] += 1
    for rid, module in expected.items():
        if module is not None and (rid, module) not in got:
            fn[module] += 1
    modules = set(tp) | set(fp) | set(fn)
    return {
        m: (
            tp[m] / (tp[m] + fp[m]) if tp[m] + fp[m] else 1.0,
            tp[m] / (tp[m] + fn[m]) if tp[m] + fn[m] else 1.0,
        )
        for m in sorted(modules)
    }
