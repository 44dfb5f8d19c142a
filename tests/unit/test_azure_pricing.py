"""Azure prices: the bundled snapshot's recorded basis, and the refresh from Retail Prices API pages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cloudios import pricing
from cloudios.cli.main import main
from cloudios.domain import Usage
from cloudios.pricing import azure
from cloudios.pricing.azure import refresh as azure_refresh
from tests.support.tools import load_tool

source = load_tool("ec2_instances_info")
PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pricing" / "azure"


def test_bundled_snapshot_records_each_tables_source_and_prices_linux_and_windows_vms() -> None:
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
    # Windows: the ec2instances.info data, with the module, version, hashes and mapping recorded.
    windows = book.tables["vm.windows"]
    assert (windows.module, windows.version, str(windows.date)) == (
        source.MODULE,
        source.VERSION,
        source.DATE,
    )
    assert (windows.sha256, windows.dirhash) == (source.ZIP_SHA256, source.DIRHASH)
    assert windows.method is not None
    assert "someengineering/fixinventory" in windows.method
    paris = Usage(
        sku="azure.vm", region="westeurope", attributes={"vmSize": "Standard_D2s_v5", "os": "windows"}
    )
    assert book.vm_hourly("westeurope", "Standard_D2s_v5", "windows") == Decimal("0.207")
    assert book.monthly(paris).amount == Decimal("0.207") * 730  # type: ignore[union-attr]
    assert (book.basis_of(paris) or "").startswith("vm.windows: ec2instances.info data in the Go module ")
    # Unknown means unpriced, never zero or guessed: with the region's reason where there is one.
    mumbai = Usage(
        sku="azure.vm", region="westindia", attributes={"vmSize": "Standard_D2s_v5", "os": "windows"}
    )
    assert book.monthly(mumbai) is None
    assert "has none for westindia" in book.missing(mumbai)
    disk = Usage(sku="azure.disk", region="eastus", attributes={"tier": "P10 LRS"})
    assert book.monthly(disk) is None


def test_every_region_has_windows_prices_or_says_why() -> None:
    book = azure.bundled()
    for name, region in book.regions.items():
        assert bool(region.vm.get("windows")) != ("vm.windows" in region.unpriced), name
    assert sum(1 for r in book.regions.values() if r.vm.get("windows")) >= 35


def test_linux_families_whose_karpenter_figures_are_windows_prices_are_left_out() -> None:
    book = azure.bundled()
    # eastus D2ads_v5: karpenter's figure was 0.195, the Windows price (Linux is 0.103).
    assert "Standard_D2ads_v5" not in book.regions["eastus"].vm["linux"]
    assert "families basv2, bsv2, dadsv5, dasv5, eadsv5, easv5" in book.tables["vm.linux"].source
    assert book.vm_hourly("eastus", "Standard_D2ads_v5", "windows") == Decimal("0.195")
    method = book.tables["vm.linux"].method
    assert method is not None
    assert "equals that data's Windows pay-as-you-go price and not its Linux one" in method


@pytest.mark.parametrize(
    ("size", "linux", "windows"),
    [("Standard_D2ads_v5", "0.103", "0.195"), ("Standard_D8as_v5", "0.344", "0.712")],
)
def test_linux_gaps_are_priced_from_the_ec2instances_info_supplement_below_windows(
    size: str, linux: str, windows: str
) -> None:
    book = azure.bundled()
    vm = Usage(sku="azure.vm", region="eastus", attributes={"vmSize": size, "os": "linux"})
    win = Usage(sku="azure.vm", region="eastus", attributes={"vmSize": size, "os": "windows"})
    assert book.vm_hourly("eastus", size) == Decimal(linux)
    assert book.monthly(vm).amount == Decimal(linux) * 730  # type: ignore[union-attr]
    assert book.monthly(vm).amount < book.monthly(win).amount  # type: ignore[union-attr,operator]
    supplement = book.tables["vm.linux"].supplement
    assert supplement is not None
    assert (supplement.module, supplement.version, str(supplement.date)) == (
        source.MODULE,
        source.VERSION,
        source.DATE,
    )
    assert (supplement.sha256, supplement.dirhash, supplement.path) == (
        source.ZIP_SHA256,
        source.DIRHASH,
        "data/azure-instances.json",
    )
    basis = book.basis_of(vm) or ""
    assert basis.startswith("vm.linux supplement: ec2instances.info data in the Go module ")
    assert basis.endswith(", 2025-05-28")
    assert (book.basis_of(win) or "").startswith("vm.windows: ")
    assert Decimal(windows) == book.vm_hourly("eastus", size, "windows")
    # A size karpenter has keeps karpenter's figure and basis.
    kept = Usage(sku="azure.vm", region="eastus", attributes={"vmSize": "Standard_D2s_v5", "os": "linux"})
    assert (book.basis_of(kept) or "").startswith(
        "vm.linux: https://github.com/Azure/karpenter-provider-azure"
    )


def test_every_supplement_figure_fills_a_gap_and_is_below_windows() -> None:
    book = azure.bundled()
    filled = 0
    for name, region in book.regions.items():
        for size, price in region.vm_supplement.get("linux", {}).items():
            assert size not in region.vm["linux"], (name, size)
            windows = region.vm.get("windows", {}).get(size)
            assert windows is None or price < windows, (name, size)
            filled += 1
    assert filled >= 3000


def test_a_linux_gap_without_a_supplement_figure_names_both_sources() -> None:
    book = azure.bundled()
    # westindia has no public slug mapping: the left-out family stays unpriced, and says so.
    vm = Usage(sku="azure.vm", region="westindia", attributes={"vmSize": "Standard_D8as_v5", "os": "linux"})
    assert book.monthly(vm) is None
    reason = book.missing(vm)
    assert "families basv2, bsv2, dadsv5, dasv5, eadsv5, easv5" in reason
    assert "nor in its supplement (ec2instances.info data" in reason
    assert "westindia" in reason  # the supplement's source lists the regions it has none for


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
    # The refreshed region records the refresh as its tables' source; the others keep the bundled one.
    assert east.sources["vm.linux"].source.startswith("Azure Retail Prices API pages read from")
    assert book.tables["vm.linux"] == azure.bundled().tables["vm.linux"]
    d2s = {"vmSize": "Standard_D2s_v5", "os": "linux"}
    assert (book.basis_of(Usage(sku="azure.vm", region="eastus", attributes=d2s)) or "").startswith(
        "vm.linux: Azure Retail Prices API pages read from"
    )
    assert (book.basis_of(Usage(sku="azure.vm", region="westeurope", attributes=d2s)) or "").startswith(
        "vm.linux: https://github.com/Azure/karpenter-provider-azure"
    )
    assert "Azure Retail Prices API" in (book.basis_of(Usage(sku="azure.lb", region="eastus")) or "")
    # Other regions keep the bundled Linux prices and their supplement; a refreshed table is Azure's whole.
    assert book.regions["westeurope"].vm["linux"] == azure.bundled().regions["westeurope"].vm["linux"]
    assert book.regions["westeurope"].vm_supplement == azure.bundled().regions["westeurope"].vm_supplement
    assert "linux" not in east.vm_supplement
    assert book.tables["vm.linux"].supplement == azure.bundled().tables["vm.linux"].supplement

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


def test_a_refreshed_table_drops_its_unpriced_reason_and_the_others_keep_theirs() -> None:
    item = {
        "currencyCode": "USD", "retailPrice": 0.2, "armRegionName": "westindia", "meterName": "D2s v5",
        "productName": "Virtual Machines Dsv5 Series Windows", "skuName": "D2s v5",
        "serviceName": "Virtual Machines", "unitOfMeasure": "1 Hour", "type": "Consumption",
        "isPrimaryMeterRegion": True, "armSkuName": "Standard_D2s_v5",
    }  # fmt: skip
    disk = {**item, "serviceName": "Storage", "productName": "Premium SSD Managed Disks",
            "meterName": "P10 LRS Disk", "unitOfMeasure": "1/Month", "retailPrice": 20}  # fmt: skip
    bundled = azure.bundled()
    assert "vm.windows" in bundled.regions["westindia"].unpriced
    collector = azure_refresh.Collector(frozenset({"westindia"}))
    collector.add({"Items": [disk]})
    kept = collector.build(bundled, date(2026, 7, 1), "test pages").regions["westindia"]
    assert kept.unpriced == bundled.regions["westindia"].unpriced  # no Windows record: reason stays
    collector.add({"Items": [item]})
    refreshed = collector.build(bundled, date(2026, 7, 1), "test pages").regions["westindia"]
    assert refreshed.vm["windows"] == {"Standard_D2s_v5": Decimal("0.2")}
    assert "vm.windows" not in refreshed.unpriced
