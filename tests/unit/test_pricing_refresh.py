"""Building a price snapshot from AWS Price List bulk files (recorded excerpts), as streams."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudios.pricing import aws as aws_pricing
from cloudios.pricing._jsonstream import JsonStream, JsonStreamError, read_chunks
from cloudios.pricing.aws import refresh

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pricing"
OFFER_FILES = {offer: FIXTURES / offer / "us-east-1" / "index.json" for offer in refresh.OFFERS}


def chunks_of(path: Path, size: int) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + size] for i in range(0, len(data), size)]


def collect(regions: set[str], size: int = 1 << 20) -> refresh.Collector:
    collector = refresh.Collector(frozenset(regions))
    for path in OFFER_FILES.values():
        collector.parse(chunks_of(path, size))
    return collector


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
def test_keeps_plain_linux_windows_rhel_shared_used_on_demand(size: int) -> None:
    prices = collect({"us-east-1"}, size).prices
    ec2 = {keys: p for (region, section, keys), p in prices.items() if section == "ec2"}
    # Dedicated, unused reservations, the Local Zone and eu-west-1 are dropped; Windows, RHEL and
    # SQL Server Web (license included) are kept under their own platform key.
    assert ec2 == {
        ("linux", "m5.large"): Decimal("0.096"),
        ("linux", "t3.micro"): Decimal("0.0104"),
        ("windows", "m5.large"): Decimal("0.188"),
        ("rhel", "m5.large"): Decimal("0.156"),
        ("linux-sql-web", "m5.large"): Decimal("0.129"),
    }
    assert all(region == "us-east-1" for region, _s, _k in prices)


def test_collects_every_section_from_the_four_offers() -> None:
    collector = collect({"us-east-1"})
    got = {(section, keys): price for (_r, section, keys), price in collector.prices.items()}
    assert got[("ebs", ("gp3", "gbMonth"))] == Decimal("0.08")
    assert got[("ebs", ("gp3", "iopsMonth"))] == Decimal("0.005")
    assert got[("ebs", ("gp3", "throughputMonth"))] == Decimal("0.04")  # 40.96 per GiBps-mo / 1024
    assert got[("ebs", ("io2", "iopsMonth"))] == Decimal("0.065")  # tier 1, not tier 2
    assert got[("snapshotGbMonth", ())] == Decimal("0.05")  # not the archive tier
    assert got[("natGatewayHourly", ())] == Decimal("0.045")  # not per-GB processing
    assert got[("publicIpv4Hourly", ())] == Decimal("0.005")
    assert got[("elbHourly", ("application",))] == Decimal("0.0225")  # not LCU hours
    assert got[("elbHourly", ("gateway",))] == Decimal("0.0125")
    assert got[("rds", ("mysql", "db.m5.large"))] == Decimal("0.171")  # Single-AZ only
    assert got[("rds", ("postgres", "db.m5.large"))] == Decimal("0.178")
    assert ("rds", ("oracle", "db.m5.large")) not in got
    assert got[("rdsStorageGbMonth", ("gp2",))] == Decimal("0.115")
    assert collector.conflicts == 0
    assert [o.offer_code for o in collector.offers] == list(refresh.OFFERS)


def test_region_filter_picks_other_regions_products() -> None:
    prices = collect({"eu-west-1"}).prices
    assert prices == {("eu-west-1", "ec2", ("linux", "m5.large")): Decimal("0.107")}


def test_built_book_replaces_refreshed_tables_and_says_what_was_carried_over() -> None:
    bundled = aws_pricing.bundled()
    collector = refresh.Collector(frozenset({"us-east-1"}))
    collector.parse(read_chunks(OFFER_FILES["AmazonEC2"].open("rb"), 4096))
    book = collector.build(bundled)
    region, before = book.regions["us-east-1"], bundled.regions["us-east-1"]
    # Each platform found in the file replaces its table whole; the others keep theirs.
    assert region.ec2["linux"] == {"m5.large": Decimal("0.096"), "t3.micro": Decimal("0.0104")}
    assert region.ec2["windows"] == {"m5.large": Decimal("0.188")}
    assert region.ec2["rhel"] == {"m5.large": Decimal("0.156")}
    assert region.ec2["linux-sql-web"] == {"m5.large": Decimal("0.129")}
    assert region.ec2["suse"] == before.ec2["suse"]
    assert region.tables["ec2.suse"] == before.tables["ec2.suse"]
    # Each refreshed table records its basis; RHEL is no longer unpriced, its SQL tables still are.
    refreshed = ("ec2.linux", "ec2.windows", "ec2.rhel", "ec2.linux-sql-web")
    assert {region.tables[t].kind for t in refreshed} == {"refreshed"}
    assert "ec2.rhel" not in region.unpriced
    assert "ec2.rhel-sql-web" in region.unpriced
    assert "linux" not in region.ec2_absent_types  # explained against the old Linux table
    assert region.tables["rds.mysql"] == before.tables["rds.mysql"]
    assert region.rds == before.rds  # AmazonRDS not parsed: carried over
    assert "AmazonEC2 20241126200322" in region.source
    assert "carried over" in region.source
    assert "rds.mysql" in region.source.split("carried over")[1]
    assert book.regions["eu-west-1"] == bundled.regions["eu-west-1"]  # not refreshed: unchanged
    assert str(book.date) == "2024-11-26"
    assert book.basis == "list"
    assert aws_pricing.parse_book(aws_pricing.dump_book(book)) == book


def test_build_book_over_all_offers() -> None:
    files = [chunks_of(p, 100) for p in OFFER_FILES.values()]
    book = refresh.build_book(files, ["us-east-1"], aws_pricing.bundled())
    region = book.regions["us-east-1"]
    assert region.elb_hourly["network"] == Decimal("0.0225")
    assert region.rds_storage_gb_month == {"gp2": Decimal("0.115"), "gp3": Decimal("0.115")}
    assert region.rds["mysql"] == {"db.m5.large": Decimal("0.171")}
    assert region.tables["rds.mysql"].kind == "refreshed"
    # Engines the offer files were not read for keep the bundled table and its basis.
    assert region.rds["mariadb"] == aws_pricing.bundled().regions["us-east-1"].rds["mariadb"]
    assert region.tables["rds.mariadb"].kind == "sourced"
    carried = region.source.split("carried over")[1]
    assert "rds.mariadb" in carried
    assert "ebs" not in carried


def test_terms_before_products_still_match() -> None:
    data = json.loads(OFFER_FILES["AWSELB"].read_text())
    reordered = {"terms": data["terms"], "offerCode": data["offerCode"], "products": data["products"]}
    collector = refresh.Collector(frozenset({"us-east-1"}))
    collector.parse([json.dumps(reordered)])
    assert len(collector.prices) == 3


def test_wrong_units_and_non_positive_prices_are_skipped() -> None:
    collector = refresh.Collector(frozenset({"us-east-1"}))
    slot = refresh.Slot("us-east-1", "natGatewayHourly", (), refresh.HOURS)
    collector._add(slot, "GB", Decimal("0.045"))
    collector._add(slot, "Hrs", Decimal(0))
    assert collector.prices == {}
    assert collector.skipped_units == 2


def test_no_offer_parsed_is_an_error() -> None:
    with pytest.raises(ValueError, match="no offer file"):
        refresh.Collector(frozenset({"us-east-1"})).build(aws_pricing.bundled())


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=10,
    ),
    size=st.integers(1, 9),
)
def test_stream_reads_any_entry_split_anywhere(value: object, size: int) -> None:
    text = json.dumps({"a": value, "b\u00e9": [value], "n": 12345.5})
    data = text.encode()
    stream = JsonStream(data[i : i + size] for i in range(0, len(data), size))
    got = {}
    for key in stream.iter_object():
        got[key] = stream.read_value()
    assert got == {"a": value, "b\u00e9": [value], "n": Decimal("12345.5")}


def test_stream_skips_nested_objects_and_reports_bad_json() -> None:
    stream = JsonStream(['{"big": {"x": {"y": [1, 2]}, "z": 3}, "keep": "yes"}'])
    seen = {}
    for key in stream.iter_object():
        if key == "big":
            stream.skip_value()
        else:
            seen[key] = stream.read_value()
    assert seen == {"keep": "yes"}
    with pytest.raises(JsonStreamError):
        list(JsonStream(['{"a": 1 "b": 2}']).iter_object())
    bad = JsonStream(['{"a": [1, 2'])
    assert next(bad.iter_object()) == "a"
    with pytest.raises(JsonStreamError):
        bad.read_value()
