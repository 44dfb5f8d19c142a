"""Kubernetes accounts' checks: what the conditions say about the agent, and that it survives redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloudios.api import CloudAccount
from cloudios.pipeline.health import ProbeResult
from cloudios.security.redaction import redact
from cloudios.services import accounts, cluster_agents
from cloudios.services.settings import AgentSettings
from cloudios.store.agent_reports import AgentActivity

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ACCOUNT = CloudAccount.model_validate(
    {
        "metadata": {"name": "edge", "namespace": "team-a"},
        "spec": {"provider": "kubernetes", "kubernetes": {"clusterName": "edge-1"}},
    }
)
SETTINGS = AgentSettings(reporting_window_seconds=600, ingest_url="https://ingest.example.com")


def activity(minutes_ago: float) -> AgentActivity:
    last = NOW - timedelta(minutes=minutes_ago)
    return AgentActivity("edge-1", last - timedelta(days=1), last, "0.1.0", 0, last)


def probe(state: cluster_agents.TokenState, found: AgentActivity | None) -> ProbeResult:
    return cluster_agents.probe(ACCOUNT, state, found, now=NOW, settings=SETTINGS)


def test_the_check_follows_the_agents_reports() -> None:
    state = cluster_agents.TokenState(secret="edge-agent-token")
    never = probe(state, None)
    assert (never.ok, never.reason) == (False, "AgentNotReporting")
    assert "Secret 'edge-agent-token' (key 'token')" in never.message
    assert "https://ingest.example.com" in never.message
    fresh = probe(state, activity(3))
    assert (fresh.ok, fresh.reason) == (True, "AgentReporting")
    stale = probe(state, activity(11))
    assert (stale.ok, stale.reason) == (False, "AgentNotReporting")
    assert "more than 600s ago" in stale.message
    revoked = probe(cluster_agents.TokenState(secret="edge-agent-token", revoked=True), activity(1))
    assert (revoked.ok, revoked.reason) == (False, "TokenRevoked")
    problem = cluster_agents.failed("TokenSecretConflict", "Secret 'x' exists")
    assert probe(cluster_agents.TokenState(secret="x", problem=problem), activity(1)) is problem
    for result in (never, fresh, stale, revoked):
        assert redact(result.message) == result.message  # what to do next survives into the status


def test_a_kubernetes_check_is_recorded_only_when_its_outcome_changes() -> None:
    body = {
        "spec": {"provider": "kubernetes"},
        "status": {"lastHealthCheck": {"ok": False, "reason": "AgentNotReporting"}},
    }
    assert not accounts._news(body, ProbeResult(ok=False, reason="AgentNotReporting", message=""))
    assert accounts._news(body, ProbeResult(ok=True, reason="AgentReporting", message=""))
    aws = {"spec": {"provider": "aws"}, "status": body["status"]}
    assert accounts._news(aws, ProbeResult(ok=False, reason="AgentNotReporting", message=""))
