"""Entry point of the Kubernetes provider: one cluster's snapshot from the agent's reports in the store.

Nothing here talks to the cluster: the agent reported its inventory and usage through ingest, and
the store hands them over through the ``AgentReports`` port (``request.agent_reports``). Tenant
and cluster come from the CloudAccount, never from report contents.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from cloudios.api.cloudaccount import CloudAccountSpec
from cloudios.domain import Provider, Snapshot
from cloudios.domain.cluster import ClusterState
from cloudios.providers.base import AgentReports, CollectRequest, CollectResult, ProviderError
from cloudios.providers.kubernetes import inventory, usage

STALE_AFTER = timedelta(hours=1)
"""An agent silent for longer is reported: a warning in a scan, a failed health check."""
INSTALL_DOC = "docs/providers/kubernetes.md"


def cluster_name(account: CloudAccountSpec) -> str:
    if account.kubernetes is None:
        raise ProviderError("InvalidAccount", "the CloudAccount has no spec.kubernetes block")
    return account.kubernetes.cluster_name


def reports_of(agent_reports: AgentReports | None) -> AgentReports:
    if agent_reports is None:
        raise ProviderError(
            "AgentReportsUnavailable",
            "a kubernetes CloudAccount is scanned from the agent's reports in the Cloudios store, and "
            "this run has none to read: it ran without a store (--no-store), or its store does not serve "
            "agent reports (the store's AgentReports implementation ships with ingest). Run the scan in "
            "the operator, or `cloudios scan` against the data directory (--data-dir) ingest writes to.",
        )
    return agent_reports


def cluster_state(agent_reports: AgentReports | None, tenant: str, cluster: str) -> ClusterState:
    """The cluster's latest state; AgentNotReporting (how to install the agent) when there is none."""
    state = reports_of(agent_reports).cluster_state(tenant, cluster)
    if state is None:
        raise ProviderError(
            "AgentNotReporting",
            f"no report from the Cloudios agent of cluster '{cluster}' yet. Install it in that cluster "
            f"with the cluster token the operator wrote to a Secret in namespace '{tenant}': "
            "helm install cloudios-agent helm/cloudios-agent --set-file token=<token file> "
            f"(the ingest URL and CA are chart values; see {INSTALL_DOC}).",
        )
    return state


def stale_message(state: ClusterState, now: datetime) -> str | None:
    """Why the agent's data is old, or None when it reported within STALE_AFTER."""
    silent = now - state.received_at
    if silent <= STALE_AFTER:
        return None
    hours = silent.total_seconds() / 3600
    return (
        f"the agent of cluster '{state.cluster}' last reported at {state.received_at:%Y-%m-%dT%H:%M:%SZ} "
        f"({hours:.1f} h ago): check the agent's pod and its ingest URL and token"
    )


def collect(request: CollectRequest) -> CollectResult:
    """Inventory and usage windows of one cluster over ``request.lookback_days``."""
    cluster = cluster_name(request.account)
    state = cluster_state(request.agent_reports, request.tenant, cluster)
    # Whole UTC days: a daily summary starting before the window's first midnight is not half in it.
    start = (request.end - timedelta(days=request.lookback_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rows = reports_of(request.agent_reports).container_usage(request.tenant, cluster, since=start)
    windows = usage.summarize(rows, start=start, end=request.end)
    earliest = min((w.first_usage_at for w in windows.values()), default=state.first_report_at)
    window = inventory.Window(
        start=start,
        end=request.end,
        lookback_days=request.lookback_days,
        observed_from=min(state.first_report_at, earliest),
    )
    resources, metrics = inventory.build(state, windows, window)
    warnings = [m] if (m := stale_message(state, request.end)) else []
    snapshot = Snapshot(
        provider=Provider.KUBERNETES,
        account_id=cluster,
        collected_at=request.end,
        lookback_days=request.lookback_days,
        resources=tuple(resources),
        metrics=metrics,
    )
    calls = Counter({"store.cluster_state": 1, "store.container_usage": 1})
    return CollectResult(snapshot=snapshot, api_calls=calls, warnings=warnings)
