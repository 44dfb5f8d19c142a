"""Store: migrations, finding history (first/last seen, resolved), tenant scoping, idempotence."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from cloudios.domain import Action, Category, Confidence, Finding, Money, Provider
from cloudios.store import ScanRecord, SqlRepository, migrations, schema

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def f(resource: str, module: str = "aws.ec2.idle", savings: str = "10") -> Finding:
    return Finding(
        id=Finding.make_id(Provider.AWS, "111111111111", "us-east-1", resource, module),
        provider=Provider.AWS,
        account_id="111111111111",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id=resource,
        module=module,
        category=Category.IDLE,
        action=Action.STOP,
        title="stop",
        confidence=Confidence.HIGH,
        monthly_savings=Money(amount=Decimal(savings)),
        price_basis="list",
    )


def scan(
    scan_id: str, when: datetime, tenant: str = "team-a", modules: tuple[str, ...] = ("aws.ec2.idle",)
) -> ScanRecord:
    return ScanRecord(
        id=scan_id,
        tenant=tenant,
        account_name="prod",
        policy_name="daily",
        provider="aws",
        account_id="111111111111",
        started_at=when,
        finished_at=when + timedelta(minutes=1),
        modules=modules,
        api_calls={"ec2.DescribeInstances": 2},
        resources=3,
    )


def test_history_first_seen_last_seen_and_resolved(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    d1 = repo.record_scan(scan("s1", T0), [f("i-1"), f("i-2")])
    assert sorted(d1.new) == sorted([f("i-1").id, f("i-2").id])
    d2 = repo.record_scan(scan("s2", T0 + timedelta(days=1)), [f("i-1")])
    assert d2.seen_again == (f("i-1").id,)
    assert d2.resolved == (f("i-2").id,)
    open_ = repo.findings("team-a")
    assert [s.finding.resource_id for s in open_] == ["i-1"]
    assert open_[0].first_seen == T0 + timedelta(minutes=1)
    assert open_[0].last_seen == T0 + timedelta(days=1, minutes=1)
    everything = repo.findings("team-a", include_resolved=True)
    resolved = [s for s in everything if s.resolved_at is not None]
    assert [s.finding.resource_id for s in resolved] == ["i-2"]
    assert resolved[0].resolved_at is not None
    assert resolved[0].resolved_at.tzinfo is not None


def test_a_module_that_did_not_run_does_not_resolve_its_findings(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    repo.record_scan(
        scan("s1", T0, modules=("aws.ec2.idle", "aws.ebs.unattached")), [f("vol-1", "aws.ebs.unattached")]
    )
    diff = repo.record_scan(scan("s2", T0 + timedelta(days=1)), [])
    assert diff.resolved == ()
    assert len(repo.findings("team-a")) == 1


def test_recording_the_same_scan_twice_gives_the_same_state(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    repo.record_scan(scan("s1", T0), [f("i-1")])
    repo.record_scan(scan("s1", T0), [f("i-1")])
    assert len(repo.scans("team-a")) == 1
    assert len(repo.findings("team-a", include_resolved=True)) == 1


def test_a_tenant_never_sees_another_tenants_rows(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    repo.record_scan(scan("s1", T0, tenant="team-a"), [f("i-a")])
    repo.record_scan(scan("s2", T0, tenant="team-b"), [f("i-b")])
    assert [s.finding.resource_id for s in repo.findings("team-a")] == ["i-a"]
    assert [s.finding.resource_id for s in repo.findings("team-b")] == ["i-b"]
    assert [s.id for s in repo.scans("team-b")] == ["s2"]
    assert repo.total_savings("team-a") == Decimal(10)


def test_migrations_apply_once_and_every_table_has_a_tenant(tmp_path: Path) -> None:
    SqlRepository.sqlite(tmp_path).close()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cloudios.db'}")
    assert migrations.upgrade(engine) == (migrations.head(), migrations.head())
    for table in schema.metadata.tables.values():
        assert "tenant" in table.c, table.name
    assert set(schema.TENANT_TABLES) == set(schema.metadata.tables)
    # A finding payload round-trips exactly, money included.
    repo = SqlRepository.sqlite(tmp_path)
    repo.record_scan(scan("s1", T0), [f("i-1", savings="12.34")])
    stored = repo.findings("team-a")[0].finding
    assert stored == f("i-1", savings="12.34")


def legacy_database(path: Path, version: int) -> sa.Engine:
    """A database as the hand-written runner left it at ``version``: its tables plus its own
    ``schema_migrations`` bookkeeping and no Alembic table."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        command.upgrade(migrations.config(conn), f"{version:04d}")
        conn.commit()
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, "
            "applied_at DATETIME NOT NULL)"
        )
        for v in range(1, version + 1):
            conn.exec_driver_sql(
                f"INSERT INTO schema_migrations VALUES ({v}, 'migration {v}', '2026-10-01 00:00:00')"
            )
        conn.commit()
    return engine


@pytest.mark.parametrize("version", [2, 4, 6])
def test_a_database_of_the_hand_written_runner_is_stamped_and_upgraded(tmp_path: Path, version: int) -> None:
    engine = legacy_database(tmp_path / "cloudios.db", version)
    with engine.begin() as conn:
        conn.execute(
            schema.accounts.insert().values(
                tenant="team-a", name="prod", provider="aws", account_id="1", created_at=T0
            )
        )
        assert migrations.legacy_revision(conn) == f"{version:04d}"
    engine.dispose()
    repo = SqlRepository.sqlite(tmp_path)
    try:
        assert [a.name for a in repo.accounts("team-a")] == ["prod"]  # kept
        # Revision 0010 replaced the old agent_usage table with the per-container one.
        assert "workload_kind" in {c["name"] for c in sa.inspect(repo._engine).get_columns("agent_usage")}
        with repo.tenant_transaction("team-a") as conn:
            assert migrations.current(conn) == migrations.head()
            assert migrations.legacy_revision(conn) is None  # stamped once; the old table stays
    finally:
        repo.close()


def test_region_restricted_scan_resolves_only_its_regions(tmp_path: Path) -> None:
    """A shard (one region of an account) must not resolve the findings of other regions."""
    repo = SqlRepository.sqlite(tmp_path)
    east = f("i-east")
    west = f("i-west").model_copy(
        update={
            "region": "us-west-2",
            "id": Finding.make_id(Provider.AWS, "111111111111", "us-west-2", "i-west", "aws.ec2.idle"),
        }
    )
    repo.record_scan(scan("s1", T0), [east, west])
    # The us-east-1 shard of the next scan finds nothing: only the us-east-1 finding is resolved.
    diff = repo.record_scan(scan("s2-east", T0 + timedelta(days=1)), [], regions=["us-east-1"])
    assert diff.resolved == (east.id,)
    assert {s.finding.id for s in repo.findings("team-a")} == {west.id}
    # The us-west-2 shard still sees its finding; without regions a scan resolves every region.
    diff = repo.record_scan(scan("s2-west", T0 + timedelta(days=1)), [west], regions=["us-west-2"])
    assert diff.resolved == ()
    assert diff.seen_again == (west.id,)
    diff = repo.record_scan(scan("s3", T0 + timedelta(days=2)), [])
    assert diff.resolved == (west.id,)


def _open_and_close(directory: str) -> None:
    SqlRepository.sqlite(directory).close()


def test_processes_migrating_a_new_database_at_once_do_not_collide(tmp_path: Path) -> None:
    for round_ in range(5):
        directory = str(tmp_path / f"db{round_}")
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_open_and_close, args=(directory,)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        engine = sa.create_engine(f"sqlite:///{directory}/cloudios.db")
        with engine.connect() as conn:
            assert migrations.current(conn) == migrations.head()
            assert sorted(sa.inspect(conn).get_table_names()) == sorted(
                [*schema.metadata.tables, "alembic_version"]
            )


def test_two_account_objects_for_one_cloud_account_keep_their_own_findings(tmp_path: Path) -> None:
    """Finding ids come from the cloud account; the rows belong to the CloudAccount object."""
    repo = SqlRepository.sqlite(tmp_path)
    first = repo.record_scan(scan("s1", T0), [f("i-1"), f("i-2")])
    twin = ScanRecord(**{**scan("s2", T0).__dict__, "account_name": "prod-twin"})
    # Before revision 0009: UNIQUE constraint failed: findings.tenant, findings.id
    second = repo.record_scan(twin, [f("i-1")])
    assert sorted(first.new) == sorted([f("i-1").id, f("i-2").id])
    assert second.new == (f("i-1").id,)
    assert second.resolved == ()  # the twin's scan never resolves prod's findings
    assert [s.finding.resource_id for s in repo.findings("team-a", account_name="prod-twin")] == ["i-1"]
    assert len(repo.findings("team-a", account_name="prod")) == 2
    # A later scan of the twin resolves only its own row.
    later = ScanRecord(**{**twin.__dict__, "id": "s3", "finished_at": T0 + timedelta(days=1)})
    assert repo.record_scan(later, []).resolved == (f("i-1").id,)
    assert len(repo.findings("team-a", account_name="prod")) == 2


def test_a_renamed_account_does_not_collide_with_the_deleted_ones_rows(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    repo.upsert_account(tenant="team-a", name="prod", provider="aws", account_id="111111111111", now=T0)
    repo.record_scan(scan("s1", T0), [f("i-1")])
    repo.mark_account_deleted(tenant="team-a", name="prod", now=T0 + timedelta(hours=1))
    renamed = ScanRecord(**{**scan("s2", T0 + timedelta(hours=2)).__dict__, "account_name": "prod-v2"})
    assert repo.record_scan(renamed, [f("i-1")]).new == (f("i-1").id,)
    # The deleted account's rows stay until retention purges them, then only the new ones remain.
    assert len(repo.findings("team-a", include_resolved=True)) == 2
    repo.purge_expired(now=T0 + timedelta(days=40), retention=timedelta(days=30))
    assert [s.account_name for s in repo.findings("team-a")] == ["prod-v2"]


def test_revision_0009_rekeys_existing_findings_by_account(tmp_path: Path) -> None:
    """A database at revision 0008 with findings keyed by (tenant, id) keeps its rows."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cloudios.db'}")
    finding = f("i-1")
    with engine.connect() as conn:
        command.upgrade(migrations.config(conn), "0008")
        conn.commit()
        # Revision 0001 creates today's table; rebuild it as it was before 0009.
        conn.exec_driver_sql("DROP TABLE findings")
        old = sa.MetaData()
        columns = [sa.Column(c.name, c.type, nullable=c.nullable) for c in schema.findings.columns]
        legacy = sa.Table("findings", old, *columns, sa.PrimaryKeyConstraint("tenant", "id"))
        sa.Index("ix_findings_account", legacy.c.tenant, legacy.c.account_name, legacy.c.resolved_at)
        old.create_all(conn)
        conn.execute(
            legacy.insert().values(
                tenant="team-a", id=finding.id, account_name="prod", module=finding.module,
                category="idle", resource_id="i-1", monthly_savings=Decimal(10), currency="USD",
                payload=finding.model_dump(mode="json"), first_seen=T0, last_seen=T0, resolved_at=None,
                last_scan_id="s0",
            )
        )  # fmt: skip
        conn.commit()
        assert sa.inspect(conn).get_pk_constraint("findings")["constrained_columns"] == ["tenant", "id"]
    engine.dispose()
    repo = SqlRepository.sqlite(tmp_path)  # applies revision 0009
    try:
        kept = repo.findings("team-a")
        assert [(s.account_name, s.finding) for s in kept] == [("prod", finding)]
        assert kept[0].first_seen == T0
        twin = ScanRecord(**{**scan("s1", T0).__dict__, "account_name": "prod-twin"})
        assert repo.record_scan(twin, [finding]).new == (finding.id,)
    finally:
        repo.close()
    inspector = sa.inspect(sa.create_engine(f"sqlite:///{tmp_path / 'cloudios.db'}"))
    assert inspector.get_pk_constraint("findings")["constrained_columns"] == ["tenant", "account_name", "id"]
    assert [i["name"] for i in inspector.get_indexes("findings")] == ["ix_findings_account"]
