"""Price books: monthly arithmetic, savings and snapshot files."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cloudios import pricing
from cloudios.domain import Money, Usage
from cloudios.pricing import aws as aws_pricing
from tests.support.price_lines import finding, usage

BOOK: aws_pricing.AwsPriceBook = aws_pricing.bundled()


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
