"""`cloudios prices refresh --provider gcp` on a hand-written excerpt in the source's format."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cloudios.cli.main import main
from cloudios.domain import Usage
from cloudios.pricing import load_book
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
