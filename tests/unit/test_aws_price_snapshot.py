"""The bundled AWS price snapshot: dated list prices with sources, every region and table explained."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import botocore.session
import pytest

from cloudios.domain import Money, Usage
from cloudios.pricing import aws as aws_pricing
from cloudios.pricing.aws import tables
from tests.support.price_lines import usage
from tests.support.tools import load_tool

BOOK: aws_pricing.AwsPriceBook = aws_pricing.bundled()


gen_aws_prices = load_tool("gen_aws_prices")
source = load_tool("ec2_instances_info")
REQUIRED_REGIONS = {
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
}


def commercial_ec2_regions() -> set[str]:
    session = botocore.session.get_session()
    partition = next(p for p in session.get_data("endpoints")["partitions"] if p["partition"] == "aws")
    return {r for r in partition["services"]["ec2"]["endpoints"] if r in partition["regions"]}


def test_bundled_snapshot_is_dated_list_prices_in_usd_with_sources() -> None:
    assert BOOK.provider == "aws"
    assert BOOK.basis == "list"
    assert BOOK.currency == "USD"
    assert isinstance(BOOK.date, date)
    assert "tools/gen_aws_prices.py" in BOOK.source
    assert set(BOOK.regions) >= REQUIRED_REGIONS
    for name in REQUIRED_REGIONS:
        region = BOOK.regions[name]
        for volume in ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"):
            assert region.ebs[volume].gb_month is not None, (name, volume)
        gp3, gp2 = region.ebs["gp3"].gb_month, region.ebs["gp2"].gb_month
        assert gp3 is not None
        assert gp2 is not None
        assert gp3 < gp2
        assert region.public_ipv4_hourly == Decimal("0.005")
        assert {"application", "network"} <= set(region.elb_hourly)
        assert region.nat_gateway_hourly is not None
        assert region.snapshot_gb_month is not None
        assert {"mysql", "postgres"} <= set(region.rds)
    # Instance prices come from the ec2instances.info data, us-east-1 Linux from karpenter.
    assert "ec2instances.info" in BOOK.source
    for name, region in BOOK.regions.items():
        basis = region.tables.get("ec2.windows")
        if basis is not None:
            assert (basis.kind, basis.module, basis.version) == ("sourced", source.MODULE, source.VERSION), (
                name
            )


def test_every_table_of_every_region_has_a_recorded_basis_or_a_reason() -> None:
    for name, region in BOOK.regions.items():
        assert region.source.strip(), name
        for table in tables.TABLES:
            basis, reason = region.tables.get(table), region.unpriced.get(table)
            assert (basis is None) != (reason is None), (name, table)
            if basis is not None:
                assert basis.source.strip(), (name, table)
                assert basis.kind != "derived" or basis.method, (name, table)
                assert basis.date, (name, table)
        assert set(region.tables) | set(region.unpriced) == set(tables.TABLES), name
        # A table with prices has a basis, and a basis has prices behind it.
        assert {f"ec2.{k}" for k, v in region.ec2.items() if v} == {
            t for t in region.tables if t.startswith("ec2.")
        }
        assert {f"rds.{k}" for k, v in region.rds.items() if v} == {
            t for t in region.tables if t.startswith("rds.")
        }
    linux = BOOK.regions["us-east-1"].tables["ec2.linux"]
    assert (linux.kind, linux.repository, linux.path) == (
        "sourced",
        "aws/karpenter-provider-aws",
        "pkg/providers/pricing/zz_generated.pricing_aws.go",
    )
    assert linux.commit is not None
    assert len(linux.commit) == 40
    assert linux.date is not None
    assert linux.method is not None  # why it is kept over the source of every other region
    assert "Kept over the ec2instances.info figures" in linux.method


def test_sourced_tables_record_the_module_version_hashes_and_date() -> None:
    recorded = 0
    for name, region in BOOK.regions.items():
        for table, basis in region.tables.items():
            if basis.module is None:
                continue
            recorded += 1
            assert (basis.module, basis.version, basis.date) == (source.MODULE, source.VERSION, source.DATE)
            assert basis.sha256 == source.ZIP_SHA256, (name, table)
            assert basis.dirhash == source.DIRHASH, (name, table)
            assert basis.download is not None
            assert f"/{source.MODULE}/@v/{source.VERSION}.zip" in basis.download
            assert basis.path in {"data/instances.json", "data/rds-instances.json"}
            assert basis.method, (name, table)  # how the source's keys map to ours
    assert recorded > 500
    rds = BOOK.regions["eu-west-3"].tables["rds.mysql"]
    assert rds.method is not None
    assert "CreateDBInstance:00NN" in rds.method
    assert "andrewmcgilvray/ice" in rds.method


def test_the_book_has_every_commercial_ec2_region_and_explains_every_instance_type() -> None:
    regions = commercial_ec2_regions()
    assert "eu-west-3" in regions
    assert regions <= set(BOOK.regions)
    region = BOOK.regions["us-east-1"]
    priced = set(region.ec2["linux"])
    absent = set(region.ec2_absent_types["linux"])
    session = botocore.session.get_session()
    api_types = set(session.get_service_model("ec2").shape_for("InstanceType").enum)
    assert api_types <= priced | absent
    assert not priced & absent
    assert len(priced) > 800
    retired = Usage(sku="ec2.instance", region="us-east-1", attributes={"instanceType": min(absent)})
    assert "not sold on demand here, or retired" in BOOK.missing(retired)


def test_paris_prices_linux_and_windows_from_the_sourced_tables() -> None:
    for os_name, hourly in (("linux", "0.112"), ("windows", "0.204")):
        line = usage("ec2.instance", "eu-west-3", instanceType="m5.large", os=os_name)
        assert BOOK.hourly(line) == Money(amount=Decimal(hourly))
        basis = BOOK.regions["eu-west-3"].tables[f"ec2.{os_name}"]
        assert (basis.kind, basis.module, basis.date) == ("sourced", source.MODULE, source.DATE)
        words = BOOK.basis_of(line)
        assert words is not None
        assert words.startswith(f"ec2.{os_name}: sourced, ec2instances.info data in the Go module ")
    sql = usage("ec2.instance", "eu-west-3", instanceType="m5.xlarge", os="windows", sqlServer="standard")
    hourly = BOOK.instance_hourly("eu-west-3", "m5.xlarge", "windows", "standard")
    assert hourly is not None
    assert hourly > BOOK.instance_hourly("eu-west-3", "m5.xlarge", "windows")  # type: ignore[operator]
    assert BOOK.monthly(sql) == Money(amount=hourly * 730)


def test_rds_engines_are_priced_per_engine_and_licence() -> None:
    mysql = usage("rds.instance", "eu-west-3", dbInstanceClass="db.m5.large", engine="mysql", multiAz="false")
    assert BOOK.monthly(mysql) == Money(amount=Decimal("0.198") * 730)
    assert BOOK.regions["eu-west-3"].tables["rds.mysql"].path == "data/rds-instances.json"
    oracle = {"dbInstanceClass": "db.m5.large", "engine": "oracle-se2"}
    included = BOOK.monthly(usage("rds.instance", "eu-west-3", **oracle, licenseModel="license-included"))
    byol = BOOK.monthly(usage("rds.instance", "eu-west-3", **oracle, licenseModel="bring-your-own-license"))
    assert included is not None
    assert byol is not None
    assert included.amount > byol.amount
    aurora = usage(
        "rds.instance",
        "eu-west-3",
        dbInstanceClass="db.r6g.large",
        engine="aurora-postgresql",
        storageType="aurora",
    )
    assert BOOK.monthly(aurora) is not None


@pytest.mark.parametrize(
    ("attributes", "why"),
    [
        (
            {"engine": "db2-se", "licenseModel": "bring-your-own-license"},
            "has no rds.db2-se:bring-your-own-license",
        ),
        ({"engine": "aurora-mysql", "storageType": "aurora-iopt1"}, "under one invented code ('211'"),
        ({"engine": "aurora-mysql"}, "depends on storageType (aurora or aurora-iopt1)"),
        ({"engine": "oracle-se2"}, "depends on licenseModel (license-included or bring-your-own-license)"),
        (
            {"engine": "sqlserver-se", "multiAz": "true", "dbInstanceClass": "db.m5.xlarge"},
            "Multi-AZ is priced as twice Single-AZ only for",
        ),
    ],
)
def test_an_engine_the_book_lacks_is_unpriced_with_its_reason(attributes: dict[str, str], why: str) -> None:
    line = usage("rds.instance", "eu-west-3", **{"dbInstanceClass": "db.r6g.large", **attributes})
    assert BOOK.monthly(line) is None
    reason = BOOK.missing(line)
    assert reason.startswith("no list price for RDS ")
    assert " in eu-west-3: " in reason
    assert why in reason


def test_a_missing_price_says_which_and_why() -> None:
    taipei = Usage(
        sku="ec2.instance", region="ap-east-2", attributes={"instanceType": "m5.xlarge", "os": "windows"}
    )
    assert BOOK.monthly(taipei) is None
    reason = BOOK.missing(taipei)
    assert reason.startswith("no list price for Windows m5.xlarge in ap-east-2: ")
    assert "cloudios prices refresh --regions ap-east-2" in reason
    rhel = Usage(
        sku="ec2.instance", region="us-east-1", attributes={"instanceType": "m5.large", "os": "rhel"}
    )
    assert BOOK.monthly(rhel) is None
    assert "'Red Hat Enterprise Linux with HA' under one key" in BOOK.missing(rhel)
    nowhere = Usage(sku="nat.gateway", region="xx-nowhere-1")
    assert (
        BOOK.missing(nowhere)
        == "no list price for nat.gateway in xx-nowhere-1: the snapshot has no prices for this region"
    )
    paris_disk = usage("ebs.volume", "eu-west-3", quantity=100, volumeType="gp3")
    assert BOOK.monthly(paris_disk) is None
    assert "hand-compiled 2024-12 figures cover seven regions" in BOOK.missing(paris_disk)
    # Windows in us-east-1 is AWS's own license-included price now, not Linux + a per-vCPU fee.
    assert BOOK.instance_hourly("us-east-1", "m5.large", "windows") == Decimal("0.188")
    assert BOOK.regions["us-east-1"].tables["ec2.windows"].kind == "sourced"
    assert BOOK.instance_hourly("us-east-1", "m6g.large", "windows") is None  # arm64: no Windows
    # A usage line the book has no table for is named as such, not as a missing table entry.
    unknown = Usage(sku="rds.unknown", region="us-east-1", attributes={"engine": "postgres"}, quantity=100)
    assert BOOK.monthly(unknown) is None
    assert (
        BOOK.missing(unknown)
        == "no list price for rds.unknown in us-east-1: the price book has no rds.unknown table"
    )


def test_karpenter_table_parser_reads_regions_and_skips_zero_prices() -> None:
    text = (
        "var X = map[string]map[ec2types.InstanceType]float64{\n"
        '\t"us-east-1": {\n\t\t// m5 family\n\t\t"m5.large": 0.096000, "m5.xlarge": 0.192000,\n'
        '\t\t"x9.tiny": 0.000000,\n\t},\n'
        '\t"eu-west-3": {\n\t\t"m5.large": 0.112000,\n\t},\n}\n'
    )
    assert gen_aws_prices.parse_karpenter_table(text) == {
        "us-east-1": {"m5.large": Decimal("0.096"), "m5.xlarge": Decimal("0.192")},
        "eu-west-3": {"m5.large": Decimal("0.112")},
    }


def test_every_price_is_a_positive_decimal_string_in_the_file() -> None:
    raw = json.loads((Path(aws_pricing.__file__).parent / "data" / "aws-prices.json").read_text())

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in {"tables", "unpriced", "ec2Absent", "ec2AbsentTypes"}:  # the record, not prices
                    walk(value, f"{path}.{key}")
        elif isinstance(node, float | int) and not isinstance(node, bool):
            pytest.fail(f"{path}: number {node!r}; prices are decimal strings")
        elif isinstance(node, str) and path.count(".") > 2 and not path.endswith(".source"):
            assert Decimal(node) > 0, path

    walk(raw["regions"], "regions")
