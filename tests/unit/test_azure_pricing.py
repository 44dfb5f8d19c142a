"""Azure prices: the bundled snapshot's recorded basis, and the refresh from Retail Prices API pages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cloudios import pricing
from cloudios.cli.main import main
from cloudios.domain import Usage
from cloudios.pricing import azure

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pricing" / "azure"


def test_bundled_snapshot_records_its_source_and_prices_linux_vms_only() -> None:
    book = azure.bundled()
    table = book.tables["vm.linux"]
    assert "Azure/karpenter-provider-azure" in table.source
    assert "352646f599290c3a6d2f9710fb535a7b288f88ed" in table.source
    assert str(table.date) == "2026-06-18"
    assert len(book.regions) >= 50
    assert book.vm_hourly("eastus", "Standard_D2s_v5") == Decimal("0.096")
    vm = Usage(sku="azure.vm", region="eastus", attributes={"vmSize": "Standard_D2s_v5", "os": "linux"})
    assert book.monthly(vm) is not None
    assert book.monthly(vm).amount == Decimal("70.08")  # type: ignore[union-attr]
    # Unknown means unpriced, never zero or guessed.
    windows = Usage(
        sku="azure.vm", region="eastus", attributes={"vmSize": "Standard_D2s_v5", "os": "windows"}
    )
    disk = Usage(sku="azure.disk", region="eastus", attributes={"tier": "P10 LRS"})
    assert book.monthly(windows) is None
    assert book.monthly(disk) is None


def test_refresh_from_pages_keeps_pay_as_you_go_and_prices_every_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "azure-prices.json"
    code = main(
        [
            "prices",
            "refresh",
            "--provider",
            "azure",
            "--from-dir",
            str(PAGES),
            "--regions",
            "eastus",
            "--output",
            str(output),
        ]
    )
    assert code == 0, capsys.readouterr().err
    book = pricing.load_book(output)
    assert isinstance(book, azure.AzurePriceBook)
    east = book.regions["eastus"]
    # Spot, Low Priority, Cloud Services and reservations are not the pay-as-you-go price.
    assert east.vm["linux"]["Standard_D2s_v5"] == Decimal("0.096")
    assert east.vm["windows"]["Standard_D2s_v5"] == Decimal("0.188")
    assert east.disk == {"P4 LRS": Decimal("5.2795"), "P10 LRS": Decimal("19.71")}
    assert east.snapshot_gb_month == {"Standard_LRS": Decimal("0.05")}
    assert east.public_ip_hourly == {"Standard IPv4": Decimal("0.005")}
    assert book.regions["global"].lb_hourly == Decimal("0.025")
    assert book.regions["westus"].vm["linux"]["Standard_D2s_v5"] != Decimal("0.3")  # not asked for
    assert {"vm.linux", "vm.windows", "disk", "snapshot", "publicIp", "loadBalancer"} <= set(book.tables)
    assert book.tables["vm.linux"].source.startswith("Azure Retail Prices API pages read from")
    # Other regions keep the bundled Linux prices.
    assert book.regions["westeurope"].vm["linux"] == azure.bundled().regions["westeurope"].vm["linux"]

    lb = (Usage(sku="azure.lb", region="eastus"), Usage(sku="azure.lb.rule", region="eastus", quantity=2))
    assert [book.monthly(u).amount for u in lb] == [Decimal("18.250"), Decimal("14.60")]  # type: ignore[union-attr]
    ip = Usage(sku="azure.publicip", region="eastus", attributes={"sku": "Standard", "version": "IPv4"})
    assert book.monthly(ip).amount == Decimal("3.650")  # type: ignore[union-attr]

    assert main(["prices", "show", "--path", str(output)]) == 0
    assert "table disk:" in capsys.readouterr().out


def test_refresh_names_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prices", "refresh", "--provider", "azure", "--from-dir", str(tmp_path)]) == 2
    assert "no *.json" in capsys.readouterr().err
    (tmp_path / "x.json").write_text('{"value": []}')
    assert main(["prices", "refresh", "--provider", "azure", "--from-dir", str(tmp_path)]) == 2
    assert "not a Retail Prices API page" in capsys.readouterr().err
    assert main(["prices", "refresh", "--provider", "azure", "--regions", "West Europe"]) == 2
    assert "not Azure region names" in capsys.readouterr().err
