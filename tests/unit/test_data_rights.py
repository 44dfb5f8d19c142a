"""Data rights on the store: export, erasure of every tenant table, pseudonymous audit that still verifies."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from cloudios.cli import audit as audit_cli
from cloudios.cli import main as cli_main
from cloudios.security import keyset
from cloudios.security.audit import AuditEvent, load_chain_key
from cloudios.services.data_rights import DataRights
from cloudios.store import SqlRepository, schema
from cloudios.store.audit import SqlAuditLog
from cloudios.store.audit_identities import is_pseudonym
from cloudios.store.health import HealthCheckRecord
from tests.support import agent_payloads as sample
from tests.unit.test_store import T0, f, scan

CANARY_USER = "alice.canary@example.com"
TENANT_TABLES = [t for t in schema.metadata.sorted_tables if "tenant" in t.c]
KEPT = {"audit_events", "audit_checkpoints"}


@dataclass
class Seeded:
    data: Path
    keys_dir: Path
    repo: SqlRepository
    log: SqlAuditLog

    def rights(self) -> DataRights:
        return DataRights(store=self.repo, audit=self.log, clock=lambda: T0 + timedelta(days=2))

    def counts(self, tenant: str) -> dict[str, int]:
        engine = sa.create_engine(f"sqlite:///{self.data / 'cloudios.db'}")
        try:
            with engine.connect() as conn:
                return {
                    t.name: int(
                        conn.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.tenant == tenant))
                        or 0
                    )
                    for t in TENANT_TABLES
                }
        finally:
            engine.dispose()


def seed_tenant(repo: SqlRepository, log: SqlAuditLog, tenant: str) -> None:
    repo.upsert_account(tenant=tenant, name="prod", provider="aws", account_id="111111111111", now=T0)
    repo.record_health_check(HealthCheckRecord(tenant, "prod", T0, ok=True, reason="Valid", message="ok"))
    repo.record_scan(scan("s1", T0, tenant=tenant), [f("i-1"), f("i-2")])
    repo.record_scan(scan("s2", T0 + timedelta(days=1), tenant=tenant), [f("i-1")])  # i-2 resolved: history
    repo.record_report(
        tenant=tenant, cluster="c1", report=sample.report(1, usage=(sample.usage(),)), received_at=T0
    )
    repo.put_secret(tenant, "webhook", b"s3cret-canary")
    log.append(
        AuditEvent(
            tenant=tenant,
            actor=CANARY_USER,
            action="recommendation.approved",
            target=f"{tenant}/rec-1",
            details={"findingId": f("i-1").id, "source": "10.1.2.3"},
        )
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    keys_dir = tmp_path / "keys"
    audit_cli.write_keys(keys_dir)
    data = tmp_path / "data"
    repo = SqlRepository.sqlite(data, keyset=keyset.generate())
    chain = load_chain_key(keys_dir / audit_cli.CHAIN_KEY_FILE)
    log = SqlAuditLog.sqlite(data, chain_key=chain)
    for tenant in ("team-a", "team-b"):
        seed_tenant(repo, log, tenant)
    yield Seeded(data, keys_dir, repo, log)
    log.close()
    repo.close()


def test_export_holds_every_kind_of_data_with_history_and_decisions(seeded: Seeded) -> None:
    exported = seeded.rights().export("team-a", caller="owner@example.com", source="10.9.9.9")
    assert exported["schema"] == "cloudios.io/export/v1"
    assert exported["tenant"] == "team-a"
    assert [a["name"] for a in exported["accounts"]] == ["prod"]
    assert len(exported["healthChecks"]) == 1
    assert [s["id"] for s in exported["scans"]] == ["s1", "s2"]
    by_resource = {x["resourceId"]: x for x in exported["findings"]}
    assert by_resource["i-2"]["resolvedAt"] is not None
    assert by_resource["i-1"]["resolvedAt"] is None
    assert by_resource["i-1"]["monthlySavings"] == {"amount": "10", "currency": "USD"}
    assert exported["secrets"][0]["name"] == "webhook"
    assert "s3cret" not in json.dumps(exported)  # names only, never values
    assert [d["actor"] for d in exported["decisions"]] == [CANARY_USER]
    # The export itself is audited, with the caller and their address, and shows up in it.
    assert [(e["action"], e["actor"], e["details"]["source"]) for e in exported["audit"]][-1] == (
        "data.exported",
        "owner@example.com",
        "10.9.9.9",
    )
    json.dumps(exported)  # JSON all the way down


def test_export_erase_export_leaves_only_pseudonymous_audit_and_another_tenant_untouched(
    seeded: Seeded,
) -> None:
    rights = seeded.rights()
    other_before = seeded.counts("team-b")
    rights.export("team-a", caller="owner@example.com", source="10.9.9.9")
    result = rights.erase("team-a", caller="owner@example.com", source="10.9.9.9")
    assert result["deleted"]["findings"] == 2
    assert result["auditEntriesKept"] == 2  # the decision and the export

    after = rights.export("team-a", caller="owner@example.com", source="10.9.9.9")
    for kind in ("accounts", "healthChecks", "scans", "findings", "workloadUsage", "secrets"):
        assert after[kind] == [], kind
    entries = after["audit"]
    assert [e["action"] for e in entries] == [
        "recommendation.approved",
        "data.exported",
        "data.erased",
        "data.exported",
    ]
    # Entries written before the erasure name nobody any more: actor and source are pseudonyms.
    for entry in entries[:2]:
        assert is_pseudonym(entry["actor"]), entry
        assert is_pseudonym(entry["details"]["source"]), entry
    assert CANARY_USER not in json.dumps(after)
    # The erasure's own entry names who erased, as proof the request was carried out.
    assert entries[2]["actor"] == "owner@example.com"
    # Every table but the audit's is empty for the tenant; the other tenant has every row it had.
    counts = seeded.counts("team-a")
    assert {name: n for name, n in counts.items() if name not in KEPT and n} == {
        "audit_identities": 2  # the eraser and the later exporter, named after the erasure
    }
    assert seeded.counts("team-b") == other_before
    assert seeded.repo.get_secret("team-b", "webhook") == b"s3cret-canary"


def test_the_canary_identity_is_gone_from_the_database_file_after_erasure(seeded: Seeded) -> None:
    seeded.rights().erase("team-a", caller="owner@example.com", source="10.9.9.9")
    seeded.rights().erase("team-b", caller="owner@example.com", source="10.9.9.9")
    seeded.log.close()
    seeded.repo.close()
    engine = sa.create_engine(f"sqlite:///{seeded.data / 'cloudios.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("VACUUM")
    engine.dispose()
    assert CANARY_USER.encode() not in (seeded.data / "cloudios.db").read_bytes()


def run_cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main.main(list(argv))
    return code, out.getvalue() + err.getvalue()


def test_cli_erase_then_audit_verify_passes_on_the_pseudonymous_chain(seeded: Seeded, tmp_path: Path) -> None:
    keys = seeded.keys_dir
    common = (
        "--data-dir", str(seeded.data),
        "--chain-key", str(keys / audit_cli.CHAIN_KEY_FILE),
        "--checkpoints", str(tmp_path / "cps"),
    )  # fmt: skip
    signing = ("--signing-key", str(keys / audit_cli.SIGNING_KEY_FILE))
    code, out = run_cli("data", "erase", "team-a", *common, *signing)
    assert code == 2, out  # no --yes
    assert "--yes" in out
    code, out = run_cli("data", "export", "team-a", *common, *signing)
    assert code == 0, out
    assert json.loads(out)["findings"]
    code, out = run_cli("data", "erase", "team-a", "--yes", *common, *signing)
    assert code == 0, out
    assert json.loads(out)["deleted"]["findings"] == 2
    code, out = run_cli("data", "export", "team-a", *common, *signing, "-o", str(tmp_path / "x.json"))
    assert code == 0, out
    exported = json.loads((tmp_path / "x.json").read_text())
    assert exported["findings"] == []
    assert is_pseudonym(exported["audit"][0]["actor"])
    assert exported["audit"][-2]["actor"].startswith("local:")  # who erased, from the CLI
    code, out = run_cli("audit", "verify", *common, "--public-key", str(keys / audit_cli.PUBLIC_KEY_FILE))
    assert code == 0, out
    assert out.startswith("OK: 5 entries")  # two decisions, export, erase, export


def test_cli_data_refuses_without_the_chain_key(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDIOS_AUDIT_CHAIN_KEY_FILE", raising=False)
    code, out = run_cli("data", "export", "team-a", "--data-dir", str(seeded.data))
    assert code == 2
    assert "--chain-key" in out


def test_an_unknown_namespace_exports_empty_and_never_fails(seeded: Seeded) -> None:
    exported = seeded.rights().export("nobody", caller="o", source="s")
    assert exported["findings"] == []
    assert [e["action"] for e in exported["audit"]] == ["data.exported"]
    assert datetime.fromisoformat(exported["exportedAt"]).tzinfo == UTC
