"""The agent half of the store on SQLite and on PostgreSQL (row-level security): reports stored once,
the AgentReports port, history across inventories, cluster tokens, retention, export and erasure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from cloudios.providers.base import AgentReports
from cloudios.security import cluster_tokens as token_format
from cloudios.security import keyset
from cloudios.store import SqlRepository, schema
from cloudios.store.cluster_tokens import LiveTokenExistsError
from tests.support import agent_payloads as sample
from tests.support.agent_payloads import T0
from tests.support.pg_store import TenantDatabase, tenant_database
from tests.support.postgres import Postgres

HOUR = timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRepository]:
    if request.param == "sqlite":
        repo = SqlRepository.sqlite(tmp_path, keyset=keyset.generate())
    else:
        postgres: Postgres = request.getfixturevalue("postgres")
        repo = tenant_database(postgres).repository(keyset=keyset.generate())
    yield repo
    repo.close()


def rows(store: SqlRepository, tenant: str, table: sa.Table) -> int:
    with store.tenant_transaction(tenant) as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def test_a_report_is_stored_once_and_read_back_through_the_port(store: SqlRepository) -> None:
    port: AgentReports = store
    rep = sample.report(1, inventory=sample.inventory(), usage=(sample.usage(), sample.usage(name="api")))
    first = store.record_report(tenant="team-a", cluster="c1", report=rep, received_at=T0)
    assert (first.duplicate, first.usage_rows, first.inventory) == (False, 2, True)
    again = store.record_report(tenant="team-a", cluster="c1", report=rep, received_at=T0 + HOUR)
    assert again.duplicate
    for table in (schema.agent_batches, schema.agent_usage, schema.agent_inventory):
        assert rows(store, "team-a", table) == {"agent_batches": 1, "agent_usage": 2}.get(table.name, 1)
    state = port.cluster_state("team-a", "c1")
    assert state is not None
    assert state.inventory == rep.inventory
    assert (state.received_at, state.first_report_at) == (T0, T0)
    used = port.container_usage("team-a", "c1", since=T0)
    assert [(u.workload_name, u.container) for u in used] == [("api", "app"), ("web", "app")]
    assert used[1] == rep.usage[0]
    assert used[1].cpu.sketch.quantile(0.5) == pytest.approx(rep.usage[0].cpu.sketch.quantile(0.5))
    # Tenant and cluster come from the caller: another tenant or cluster sees nothing.
    assert port.cluster_state("team-b", "c1") is None
    assert port.container_usage("team-a", "c2", since=T0) == []
    activity = store.agent_activity("team-a", "c1")
    assert activity is not None
    assert activity.last_report_at == T0  # the replay stored nothing, not even its time


def test_usage_keys_replace_and_since_filters(store: SqlRepository) -> None:
    old = sample.usage(start=T0 - timedelta(days=2), cpu=[1.0])
    store.record_report(tenant="team-a", cluster="c1", report=sample.report(1, usage=(old,)), received_at=T0)
    resent = sample.usage(start=T0 - timedelta(days=2), cpu=[5.0, 7.0])
    store.record_report(
        tenant="team-a", cluster="c1", report=sample.report(2, usage=(resent,)), received_at=T0
    )
    store.record_report(
        tenant="team-a", cluster="c1", report=sample.report(3, usage=(sample.usage(),)), received_at=T0
    )
    everything = store.container_usage("team-a", "c1", since=T0 - timedelta(days=3))
    assert [u.cpu.samples for u in everything] == [2, 3]  # the re-sent hour replaced the first
    assert len(store.container_usage("team-a", "c1", since=T0 - HOUR)) == 1
    # Usage alone: the cluster is active, but has no state before its first inventory.
    assert store.cluster_state("team-a", "c1") is None
    assert store.agent_activity("team-a", "c1") is not None


def test_history_maps_carry_the_first_time_a_condition_held(store: SqlRepository) -> None:
    def send(seq: int, at_hours: int, **kwargs: object) -> None:
        at = T0 + at_hours * HOUR
        inv = sample.inventory(taken_at=at, **kwargs)  # type: ignore[arg-type]
        store.record_report(
            tenant="team-a", cluster="c1", report=sample.report(seq, inventory=inv), received_at=at
        )

    send(1, 0)  # claim mounted, LB without endpoints, 'old' scaled to zero
    send(2, 1, mounted=False)
    send(3, 2, mounted=False)
    state = store.cluster_state("team-a", "c1")
    assert state is not None
    assert state.claims_unmounted_since == {"shop/data": T0 + HOUR}
    assert state.load_balancers_unready_since == {"shop/front": T0}
    assert state.workloads_idle_since == {"shop/old": T0}
    send(4, 3, ready_endpoints=2, replicas=0)  # mounted by nobody: no pods at all now
    state = store.cluster_state("team-a", "c1")
    assert state is not None
    assert state.load_balancers_unready_since == {}
    assert state.claims_unmounted_since == {"shop/data": T0 + HOUR}
    assert state.workloads_idle_since == {"shop/old": T0, "shop/web": T0 + 3 * HOUR}
    # An older inventory (a batch queued while ingest was down) arrives late: kept out of the state.
    late = sample.inventory(taken_at=T0 + 2.5 * HOUR)  # type: ignore[arg-type]
    store.record_report(
        tenant="team-a", cluster="c1", report=sample.report(5, inventory=late), received_at=T0 + 4 * HOUR
    )
    state = store.cluster_state("team-a", "c1")
    assert state is not None
    assert state.inventory.taken_at == T0 + 3 * HOUR
    assert state.first_report_at == T0


def test_tokens_rotate_with_overlap_revoke_and_are_found_by_digest(store: SqlRepository) -> None:
    first = token_format.mint()
    a = store.add_cluster_token(
        tenant="team-a", account_name="prod", cluster="c1", token=first, rotation="", replaces=None,
        now=T0, overlap=timedelta(hours=24),
    )  # fmt: skip
    assert store.cluster_token("team-a", "prod") == a
    assert store.reveal_cluster_token("team-a", a.id) == first
    grant = store.find_cluster_token(token_format.digest(first))
    assert grant is not None
    assert (grant.tenant, grant.cluster, grant.refused_at(T0)) == ("team-a", "c1", None)
    assert store.find_cluster_token(token_format.digest(token_format.mint())) is None
    # A writer that saw no token (or an older one) loses to the one that added it first.
    with pytest.raises(LiveTokenExistsError):
        store.add_cluster_token(
            tenant="team-a", account_name="prod", cluster="c1", token=token_format.mint(), rotation="",
            replaces=None, now=T0, overlap=timedelta(hours=24),
        )  # fmt: skip
    second = token_format.mint()
    b = store.add_cluster_token(
        tenant="team-a", account_name="prod", cluster="c1", token=second, rotation="r1", replaces=a.id,
        now=T0 + HOUR, overlap=timedelta(hours=24),
    )  # fmt: skip
    assert store.cluster_token("team-a", "prod") == b
    old = store.find_cluster_token(token_format.digest(first))
    assert old is not None
    assert old.refused_at(T0 + 24 * HOUR) is None
    assert old.refused_at(T0 + 25 * HOUR) == "expired"
    assert store.revoke_cluster_tokens("team-a", "prod", now=T0 + 2 * HOUR) == 2
    new = store.find_cluster_token(token_format.digest(second))
    assert new is not None
    assert new.refused_at(T0 + 2 * HOUR) == "revoked"
    assert store.cluster_token("team-a", "prod") is None
    # The ciphertext is bound to its row: the store holds no token in the clear.
    with store.tenant_transaction("team-a") as conn:
        stored = json.dumps([list(map(str, r)) for r in conn.execute(sa.select(schema.cluster_tokens))])
    assert first not in stored
    assert second not in stored


def test_retention_prunes_old_usage_and_deleted_clusters_but_not_a_renamed_ones(store: SqlRepository) -> None:
    for tenant, cluster in (("team-a", "gone"), ("team-a", "kept"), ("team-b", "gone")):
        old = sample.usage(start=T0 - timedelta(days=91))
        rep = sample.report(1, inventory=sample.inventory(), usage=(old, sample.usage()))
        store.record_report(tenant=tenant, cluster=cluster, report=rep, received_at=T0)
    store.upsert_account(tenant="team-a", name="gone", provider="kubernetes", account_id="gone", now=T0)
    store.upsert_account(tenant="team-a", name="old-name", provider="kubernetes", account_id="kept", now=T0)
    store.upsert_account(tenant="team-a", name="new-name", provider="kubernetes", account_id="kept", now=T0)
    for name in ("gone", "old-name"):
        store.mark_account_deleted(tenant="team-a", name=name, now=T0)
    counts = store.purge_expired(now=T0 + timedelta(days=31), retention=timedelta(days=30))
    assert counts.agent_usage == 3
    assert counts.agent_clusters == 1
    assert store.cluster_state("team-a", "gone") is None
    assert store.cluster_state("team-a", "kept") is not None  # new-name still reports under it
    assert store.cluster_state("team-b", "gone") is not None  # another tenant's cluster of that name
    assert len(store.container_usage("team-a", "kept", since=T0 - timedelta(days=100))) == 1


def test_export_and_erasure_cover_the_agent_tables(store: SqlRepository) -> None:
    token = token_format.mint()
    store.add_cluster_token(
        tenant="team-a", account_name="prod", cluster="c1", token=token, rotation="", replaces=None,
        now=T0, overlap=timedelta(hours=24),
    )  # fmt: skip
    rep = sample.report(1, inventory=sample.inventory(), usage=(sample.usage(),))
    store.record_report(tenant="team-a", cluster="c1", report=rep, received_at=T0)
    exported = store.export_tenant("team-a", now=T0)
    assert exported["workloadUsage"][0]["workload"] == "Deployment/web"
    assert exported["workloadUsage"][0]["summary"]["cpu"]["samples"] == 3
    assert exported["agentClusters"][0]["inventory"]["pods"][0]["name"] == "web-1"
    assert exported["agentBatches"][0]["sequence"] == 1
    assert exported["clusterTokens"][0]["accountName"] == "prod"
    text = json.dumps(exported)
    assert token not in text
    assert token_format.digest(token) not in text
    erased = store.erase_tenant("team-a")
    for table in ("agent_usage", "agent_batches", "agent_inventory", "cluster_tokens"):
        assert erased.deleted[table] == 1, table
    assert store.find_cluster_token(token_format.digest(token)) is None


@pytest.mark.postgres
def test_the_token_lookup_function_is_the_app_roles_only_way_across_tenants(postgres: Postgres) -> None:
    db: TenantDatabase = tenant_database(postgres)
    repo = db.repository(keyset=keyset.generate())
    try:
        token = token_format.mint()
        repo.add_cluster_token(
            tenant="team-b", account_name="prod", cluster="c9", token=token, rotation="", replaces=None,
            now=T0, overlap=timedelta(hours=24),
        )  # fmt: skip
        engine = db.engine()
        with engine.connect() as conn:  # the app role, no tenant set: no row of the table itself
            assert conn.exec_driver_sql("SELECT count(*) FROM cluster_tokens").scalar() == 0
        engine.dispose()
        grant = repo.find_cluster_token(token_format.digest(token))
        assert grant is not None
        assert (grant.tenant, grant.cluster) == ("team-b", "c9")
        definer = db.superuser(
            "SELECT prosecdef, proconfig FROM pg_proc WHERE proname = 'cloudios_cluster_token'"
        )
        assert definer.startswith("t|"), definer
        assert "search_path" in definer
        # Executable by the app role only, not by PUBLIC (another login role is refused).
        db.superuser("CREATE ROLE stranger LOGIN PASSWORD 'x'")
        refused = db.superuser(
            "SELECT has_function_privilege('stranger', 'cloudios_cluster_token(text)', 'EXECUTE')"
        )
        assert refused.strip() == "f"
    finally:
        repo.close()
        db.superuser("DROP ROLE IF EXISTS stranger")
