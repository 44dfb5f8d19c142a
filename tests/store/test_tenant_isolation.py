"""PostgreSQL row-level security: no tenant reads or writes another's rows; start-up refuses unsafe roles."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from cloudios.domain import Action, Category, Confidence, Finding, Money, Provider
from cloudios.domain.closed_loop import Baseline, LoopRecord
from cloudios.security import cluster_tokens, keyset
from cloudios.store import ScanRecord, SqlRepository, rls, schema
from cloudios.store.health import HealthCheckRecord
from cloudios.store.outbox import OutboxMessage
from cloudios.store.verdicts import StoredVerdict
from tests.support import agent_payloads as sample
from tests.support.pg_store import TenantDatabase, tenant_database
from tests.support.postgres import Postgres
from tests.unit.test_store import scan as unit_scan

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def finding(tenant: str, resource: str) -> Finding:
    return Finding(
        id=Finding.make_id(Provider.AWS, "111111111111", "us-east-1", f"{tenant}:{resource}", "aws.ec2.idle"),
        provider=Provider.AWS,
        account_id="111111111111",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id=f"{tenant}:{resource}",
        module="aws.ec2.idle",
        category=Category.IDLE,
        action=Action.STOP,
        title="stop",
        confidence=Confidence.HIGH,
        monthly_savings=Money(amount=Decimal(10)),
        price_basis="list",
    )


def scan_of(tenant: str, scan_id: str, when: datetime = T0) -> ScanRecord:
    return unit_scan(scan_id, when, tenant)


def seed(repo: SqlRepository, tenant: str) -> None:
    """One row of every kind in every tenant table the app role writes."""
    repo.upsert_account(tenant=tenant, name="prod", provider="aws", account_id="1", now=T0)
    repo.record_health_check(HealthCheckRecord(tenant, "prod", T0, ok=True, reason="Ok", message="fine"))
    repo.record_scan(scan_of(tenant, f"{tenant}-s1"), [finding(tenant, "i-1")])
    report = sample.report(1, inventory=sample.inventory(), usage=(sample.usage(),))
    repo.record_report(tenant=tenant, cluster="c1", report=report, received_at=T0)
    repo.add_cluster_token(
        tenant=tenant, account_name="prod", cluster="c1", token=cluster_tokens.mint(), rotation="",
        replaces=None, now=T0, overlap=timedelta(hours=24),
    )  # fmt: skip
    repo.put_secret(tenant, "webhook", b"secret of " + tenant.encode())
    found = finding(tenant, "i-1")
    repo.save_outcomes(tenant, [LoopRecord(
        tenant=tenant, account_name="prod", finding_id=found.id, module=found.module,
        baseline=Baseline(finding=found, recorded_at=T0),
    )], now=T0)  # fmt: skip
    repo.enqueue_webhooks(tenant, [OutboxMessage(
        tenant=tenant, id=f"msg_{tenant}", policy="nightly", destination=0, url="https://hooks.example.com/",
        secret_name="webhook/nightly/0", event="scan.completed", body="{}", created_at=T0,
        deadline=T0 + timedelta(hours=24),
    )])  # fmt: skip
    repo.record_verdict(StoredVerdict(
        tenant=tenant, finding_id=f"f-{tenant}", policy="nightly", evidence_hash="0" * 64, verdict="agree",
        reason="ok", model="m", asked_at=T0,
    ))  # fmt: skip
    with repo.tenant_transaction(tenant) as conn:
        conn.execute(
            schema.audit_events.insert().values(
                seq=2 if tenant == "team-b" else 1, tenant=tenant, time="t", actor="a", action="x",
                target="t", details={}, prev_hash=f"p-{tenant}", hash=f"h-{tenant}",
            )
        )  # fmt: skip
        conn.execute(
            schema.audit_identities.insert().values(
                tenant=tenant, pseudonym=f"pseudonym:{tenant}", value=f"someone in {tenant}", created_at=T0
            )
        )


# audit_checkpoints holds only the whole log's checkpoints (tenant ""): no tenant ever has rows there.
WRITTEN = tuple(t for t in schema.TENANT_TABLES if t != "audit_checkpoints")


@pytest.fixture
def db(postgres: Postgres) -> TenantDatabase:
    return tenant_database(postgres)


@pytest.fixture
def seeded(db: TenantDatabase) -> Iterator[SqlRepository]:
    repo = db.repository(keyset=keyset.generate())
    seed(repo, "team-a")
    seed(repo, "team-b")
    yield repo
    repo.close()


def test_the_catalog_check_covers_every_tenant_table_and_passes(db: TenantDatabase) -> None:
    db.repository().close()
    in_catalog = db.superuser(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant' "
        f"AND table_catalog = '{db.name}' AND table_schema = 'public' ORDER BY 1"
    ).split()
    assert sorted(schema.TENANT_TABLES) == in_catalog
    secured = db.superuser(
        "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity "
        "AND relkind = 'r' ORDER BY 1"
    ).split()
    assert secured == in_catalog
    with db.engine().connect() as conn:
        assert rls.problems(conn) == []


def test_tenant_a_can_neither_see_nor_change_nor_delete_tenant_b_rows(
    db: TenantDatabase, seeded: SqlRepository
) -> None:
    with seeded.tenant_transaction("team-a") as conn:
        for name in WRITTEN:
            table = schema.metadata.tables[name]
            other = table.c.tenant == "team-b"
            assert conn.scalar(sa.select(sa.func.count()).select_from(table).where(other)) == 0, name
            assert conn.scalar(sa.select(sa.func.count()).select_from(table)) == 1, name  # only its own
            if name not in rls.APPEND_ONLY:
                assert conn.execute(table.update().where(other).values(tenant="team-a")).rowcount == 0
                assert conn.execute(table.delete().where(other)).rowcount == 0
    for name in WRITTEN:  # B's rows are all still there
        assert db.superuser(f"SELECT count(*) FROM {name} WHERE tenant = 'team-b'").strip() == "1", name
    assert seeded.get_secret("team-b", "webhook") == b"secret of team-b"


@pytest.mark.parametrize("name", WRITTEN)
def test_inserting_a_row_for_another_tenant_is_an_error(seeded: SqlRepository, name: str) -> None:
    table = schema.metadata.tables[name]
    with seeded.tenant_transaction("team-a") as conn:
        row = conn.execute(sa.select(table)).mappings().one()
    values = {k: v for k, v in row.items() if not (k == "id" and name == "health_checks")}
    values |= {"tenant": "team-b"}
    if name == "cluster_tokens":
        values |= {"id": "another", "sha256": "0" * 64}
    if name == "audit_events":
        values |= {"seq": 99, "prev_hash": "p-x", "hash": "h-x"}
    elif "name" in values:
        values["name"] = "another"
    elif name == "data_keys":
        values["version"] = 99
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):  # noqa: SIM117
        with seeded.tenant_transaction("team-a") as conn:
            conn.execute(table.insert().values(**values))


def test_without_a_tenant_no_row_is_visible(db: TenantDatabase, seeded: SqlRepository) -> None:
    engine = db.engine()
    try:
        with engine.connect() as conn:
            for name in schema.TENANT_TABLES:
                assert conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar() == 0, name
    finally:
        engine.dispose()
    assert seeded.findings("team-a")  # the rows exist


def test_one_pooled_connection_serves_a_then_b_and_b_sees_only_b(db: TenantDatabase) -> None:
    repo = db.repository()
    try:
        seed_plain = [("team-a", "i-a"), ("team-b", "i-b")]
        for tenant, resource in seed_plain:
            repo.record_scan(scan_of(tenant, f"{tenant}-s"), [finding(tenant, resource)])
        engine = db.engine(poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=0)
        pids = []
        for tenant in ("team-a", "team-b", None):
            with engine.begin() as conn:
                pids.append(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
                if tenant:
                    rls.set_tenant(conn, tenant)
                seen = list(conn.execute(sa.select(schema.findings.c.tenant)).scalars())
            assert seen == ([tenant] if tenant else []), (tenant, seen)  # set_config(..., true) ended
        assert len(set(pids)) == 1  # one server session served all three transactions
        engine.dispose()
    finally:
        repo.close()


UNSAFE = {
    "a dropped tenant policy": ("DROP POLICY cloudios_tenant ON findings", "findings lacks the"),
    "FORCE switched off": ("ALTER TABLE secrets NO FORCE ROW LEVEL SECURITY", "secrets does not FORCE"),
    "RLS switched off": ("ALTER TABLE scans DISABLE ROW LEVEL SECURITY", "scans does not have row-level"),
    "a policy for everyone": (
        "CREATE POLICY open ON audit_events USING (true)", "policy open on audit_events applies"
    ),
    "an app role with BYPASSRLS": ("ALTER ROLE {app} BYPASSRLS", "has BYPASSRLS"),
    "a superuser app role": ("ALTER ROLE {app} SUPERUSER", "is a superuser"),
    "an app role owning a table": ("ALTER TABLE accounts OWNER TO {app}", "owns accounts"),
    "an app role in the owner's role": ("GRANT {migrator} TO {app}", "owns agent_usage"),
}  # fmt: skip


@pytest.mark.parametrize("case", UNSAFE)
def test_start_up_refuses_when_isolation_is_broken(db: TenantDatabase, case: str) -> None:
    """The mutation test: break one policy, FORCE or role attribute and the store refuses to open."""
    db.repository().close()
    sql, reason = UNSAFE[case]
    db.superuser(sql.format(app=db.app, migrator=db.migrator))
    with pytest.raises(rls.UnsafeDatabaseError, match=reason):
        SqlRepository(db.app_url, password=db.password, migrate=False)


def test_fifty_tenants_scanning_at_once_keep_their_rows(db: TenantDatabase) -> None:
    repo = db.repository()
    tenants = [f"tenant-{i:02d}" for i in range(50)]

    def scan_tenant(tenant: str) -> None:
        for n in range(3):
            found = [finding(tenant, f"i-{n}-{k}") for k in range(4)]
            repo.record_scan(scan_of(tenant, f"{tenant}-{n}", T0 + timedelta(hours=n)), found)
            repo.record_health_check(HealthCheckRecord(tenant, "prod", T0, ok=True, reason="Ok", message=""))

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(scan_tenant, tenants))
        for tenant in tenants:
            seen = repo.findings(tenant, include_resolved=True)
            assert len(seen) == 12
            assert {s.tenant for s in seen} == {tenant}
            assert all(s.finding.resource_id.startswith(f"{tenant}:") for s in seen)
            assert {s.tenant for s in repo.scans(tenant)} == {tenant}
            assert len(repo.health_checks(tenant)) == 3
        # Every stored row carries the tenant that wrote it (read past RLS as the superuser).
        wrong = db.superuser("SELECT count(*) FROM findings WHERE resource_id NOT LIKE tenant || ':%'")
        assert wrong.strip() == "0"
        assert db.superuser("SELECT count(*) FROM findings").strip() == str(50 * 12)
    finally:
        repo.close()


def test_the_app_role_cannot_change_the_audit_log_and_the_owner_is_stopped_by_triggers(
    db: TenantDatabase, seeded: SqlRepository
) -> None:
    for sql in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):  # noqa: SIM117
            with seeded.tenant_transaction("team-a") as conn:
                conn.exec_driver_sql(sql)
        owner = db.engine(db.migrator)
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), owner.begin() as conn:
            conn.exec_driver_sql(sql)
        owner.dispose()


def test_retention_runs_across_tenants_as_the_migration_role_only(db: TenantDatabase) -> None:
    repo = db.repository()
    try:
        for tenant in ("team-a", "team-b"):
            repo.record_health_check(HealthCheckRecord(tenant, "prod", T0, ok=True, reason="Ok", message=""))
        counts = repo.purge_expired(now=T0 + timedelta(days=31), retention=timedelta(days=30))
        assert counts.health_checks == 2
    finally:
        repo.close()
    app_only = SqlRepository(db.app_url, password=db.password, migrate=False)
    with pytest.raises(RuntimeError, match="CLOUDIOS_DATABASE_ADMIN_URL"):
        app_only.purge_expired(now=T0, retention=timedelta(days=30))
    app_only.close()
