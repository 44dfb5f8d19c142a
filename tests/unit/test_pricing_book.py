"""Price books: the bundled AWS snapshot's contents, monthly arithmetic, savings and snapshot files."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cloudios import pricing
from cloudios.domain import Action, Category, Confidence, Finding, Money, Provider, Usage
from cloudios.pricing import aws as aws_pricing
from cloudios.pricing.aws import tables
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


def usage(sku: str, region: str = "us-east-1", quantity: int | str = 1, **attributes: str) -> Usage:
    return Usage(sku=sku, region=region, attributes=attributes, quantity=Decimal(quantity))


def finding(current: list[Usage], proposed: list[Usage]) -> Finding:
    return Finding(
        id="x",
        provider=Provider.AWS,
        account_id="123456789012",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id="i-1",
        module="aws.ec2.rightsize",
        category=Category.RIGHTSIZE,
        action=Action.RESIZE,
        title="t",
        confidence=Confidence.MEDIUM,
        current_usage=tuple(current),
        proposed_usage=tuple(proposed),
    )


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


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (usage("ec2.instance", instanceType="m5.large", os="linux"), "70.08"),
        (usage("ec2.instance", "eu-central-1", instanceType="m5.large"), "83.95"),
        (usage("ebs.volume", quantity=100, volumeType="gp3"), "8.00"),
        (usage("ebs.iops", quantity=1000, volumeType="io2"), "65.00"),
        (usage("ebs.throughput", quantity=125, volumeType="gp3"), "5.00"),
        (usage("ebs.snapshot", quantity=100), "5.00"),
        (usage("ec2.eip"), "3.65"),
        (usage("elb", type="application"), "16.425"),
        (usage("nat.gateway", "ap-northeast-1"), "45.26"),
        (usage("rds.instance", dbInstanceClass="db.r5.large", engine="mysql", multiAz="false"), "175.20"),
        (usage("rds.instance", dbInstanceClass="db.r5.large", engine="mysql", multiAz="true"), "350.40"),
        (usage("rds.storage", quantity=100, storageType="gp3", multiAz="true"), "23.00"),
    ],
)
def test_monthly_prices(line: Usage, expected: str) -> None:
    money = BOOK.monthly(line)
    assert money is not None
    assert isinstance(money.amount, Decimal)
    assert money.amount == Decimal(expected)
    assert money.currency == "USD"


def test_hourly_is_monthly_over_730() -> None:
    assert BOOK.hourly(usage("ec2.instance", instanceType="m5.large")) == Money(amount=Decimal("0.096"))
    volume = BOOK.hourly(usage("ebs.volume", quantity=730, volumeType="gp2"))
    assert volume is not None
    assert volume.amount == Decimal("0.1")


@pytest.mark.parametrize(
    "line",
    [
        usage("ec2.instance", instanceType="m5.large", os="rhel"),
        usage("ec2.instance", instanceType="m5.large", os="ubuntu"),
        usage("ec2.instance", instanceType="zz9.mega"),
        usage("ec2.instance", "mars-north-1", instanceType="m5.large"),
        usage("ebs.volume", volumeType="gp9"),
        usage("rds.instance", dbInstanceClass="db.m5.large", engine="oracle-ee"),
        usage("rds.instance", dbInstanceClass="db.m5.large", engine="mariadb", multiAz="true"),
        usage("elb", type="classic"),
        usage("lambda.invocation"),
    ],
)
def test_unknown_prices_are_none_never_zero(line: Usage) -> None:
    assert BOOK.monthly(line) is None
    assert BOOK.hourly(line) is None


def test_savings_subtracts_proposed_from_current() -> None:
    resize = finding(
        [usage("ec2.instance", instanceType="m5.2xlarge")], [usage("ec2.instance", instanceType="m5.xlarge")]
    )
    assert pricing.savings(resize, BOOK) == Money(amount=Decimal("140.16"))


def test_savings_is_none_when_any_line_is_unpriced_or_nothing_is_billed() -> None:
    assert pricing.savings(finding([usage("ec2.instance", instanceType="zz9.mega")], []), BOOK) is None
    assert (
        pricing.savings(
            finding(
                [usage("ec2.instance", instanceType="m5.large")],
                [usage("ec2.instance", instanceType="zz9.mega")],
            ),
            BOOK,
        )
        is None
    )
    assert pricing.savings(finding([], []), BOOK) is None


def test_a_negative_difference_is_reported_as_zero() -> None:
    upsize = finding(
        [usage("ec2.instance", instanceType="m5.large")], [usage("ec2.instance", instanceType="m5.24xlarge")]
    )
    assert pricing.savings(upsize, BOOK) == Money.zero()


PRICED = [
    usage("ec2.instance", instanceType=t)
    for t in ("t3.micro", "m5.large", "m5.2xlarge", "c5.9xlarge", "r5.4xlarge", "m4.xlarge")
] + [usage("ebs.volume", quantity=q, volumeType=v) for q in (1, 100, 5000) for v in ("gp2", "gp3", "io1")]


@given(
    current=st.lists(st.sampled_from(PRICED), min_size=1, max_size=4),
    proposed=st.lists(st.sampled_from(PRICED), max_size=4),
)
def test_savings_are_never_negative_and_never_float(current: list[Usage], proposed: list[Usage]) -> None:
    money = pricing.savings(finding(current, proposed), BOOK)
    assert money is not None
    assert isinstance(money.amount, Decimal)
    assert money.amount >= 0
    monthly = [BOOK.monthly(u) for u in current + proposed]
    total = sum((m.amount for m in monthly[: len(current)] if m), Decimal(0)) - sum(
        (m.amount for m in monthly[len(current) :] if m), Decimal(0)
    )
    assert money.amount == max(total, Decimal(0))


def test_round_trip_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    path.write_text(aws_pricing.dump_book(BOOK))
    again = pricing.load_book(path)
    assert again == BOOK
    assert aws_pricing.bundled() is aws_pricing.bundled()  # the bundled book is read once
    data = json.loads(aws_pricing.dump_book(BOOK))
    data["basis"] = "effective"
    with pytest.raises(ValidationError):
        aws_pricing.parse_book(json.dumps(data))
    data["basis"] = "list"
    data["regions"]["us-east-1"]["unknownSection"] = {}
    with pytest.raises(ValidationError):
        aws_pricing.parse_book(json.dumps(data))


def test_numbers_in_json_are_read_as_exact_decimals() -> None:
    data = json.loads(aws_pricing.dump_book(BOOK))
    text = json.dumps(data).replace('"snapshotGbMonth": "0.05"', '"snapshotGbMonth": 0.1')
    book = aws_pricing.parse_book(text)
    assert book.regions["us-east-1"].snapshot_gb_month == Decimal("0.1")


def test_snapshot_files_are_read_by_the_parser_their_provider_names(tmp_path: Path) -> None:
    data = json.loads(aws_pricing.dump_book(BOOK))
    assert data["provider"] == "aws"
    del data["provider"]  # written before the field existed: still an AWS snapshot
    older = tmp_path / "older.json"
    older.write_text(json.dumps(data))
    book = pricing.load_book(older)
    assert isinstance(book, aws_pricing.AwsPriceBook)
    assert book.provider == "aws"
    assert book == BOOK


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"provider": "moon", "date": "2025-01-01"}',
            r"known cloud \(provider 'moon'; known: aws, gcp, azure\)",
        ),
        ('{"provider": ["aws"]}', r"known cloud \(provider \['aws'\]; known: aws, gcp, azure\)"),
        ("[1, 2]", r"known cloud \(provider None; known: aws, gcp, azure\)"),
        ("{", "Expecting property name"),
    ],
)
def test_snapshot_files_of_unknown_clouds_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        pricing.load_book(path)


def test_savings_needs_only_the_price_book_interface() -> None:
    published = date(2025, 1, 1)

    class FlatBook:
        """A book of another cloud: every usage line costs 10 EUR a month."""

        provider, currency, source, basis = "other", "EUR", "test", "list"
        date = published

        def count(self) -> int:
            return 1

        def monthly(self, line: Usage) -> Money | None:
            return Money(amount=Decimal(10) * line.quantity, currency=self.currency)

        def hourly(self, line: Usage) -> Money | None:
            return None

    book: pricing.PriceBook = FlatBook()
    saved = pricing.savings(finding([usage("vm", quantity=3)], [usage("vm")]), book)
    assert saved == Money(amount=Decimal(20), currency="EUR")
