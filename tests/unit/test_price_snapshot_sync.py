"""Bundled price snapshots stay in sync with their generators and name the exact source they came from.

CI has no copy of the ec2-instances-info source (nothing of it is committed), so there the check is
the committed file's recorded metadata: the pinned module version and hashes, the mapping texts and
the canonical encoding. Where the source directory is present, the generators run again and must
reproduce the committed files byte for byte.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from cloudios.pricing import aws as aws_pricing
from cloudios.pricing import azure as azure_pricing
from cloudios.pricing.aws import tables
from tests.support.tools import load_tool

source = load_tool("ec2_instances_info")
gen_aws_prices = load_tool("gen_aws_prices")
gen_azure_prices = load_tool("gen_azure_prices")
AWS_FILE = gen_aws_prices.SNAPSHOT
AZURE_FILE = gen_azure_prices.TARGET
SOURCE_DIR = Path(os.environ.get("CLOUDIOS_EC2_INSTANCES_INFO", str(source.DEFAULT_DIR)))


def test_the_committed_aws_snapshot_records_the_pinned_source_and_is_canonical() -> None:
    text = AWS_FILE.read_text(encoding="utf-8")
    raw = json.loads(text)
    book = aws_pricing.parse_book(text)
    assert aws_pricing.dump_book(book) == text  # written by the generator, not edited by hand
    for key, path, method in (
        (gen_aws_prices.EC2_BASIS, "data/instances.json", source.EC2_METHOD),
        (gen_aws_prices.RDS_BASIS, "data/rds-instances.json", source.RDS_METHOD),
    ):
        basis = raw["bases"][key]
        assert basis["module"] == source.MODULE
        assert basis["version"] == source.VERSION
        assert basis["sha256"] == source.ZIP_SHA256
        assert basis["dirhash"] == source.DIRHASH
        assert basis["date"] == source.DATE
        assert basis["path"] == path
        assert basis["method"] == method  # the mapping the generator applies is the one recorded
    assert raw["notes"] == gen_aws_prices.NOTES
    for name, region in raw["regions"].items():
        assert set(region["tables"]) | set(region["unpriced"]) == set(tables.TABLES), name
        for table, basis in region["tables"].items():
            assert isinstance(basis, str), (name, table)  # shared records are named, never copied
            assert basis in raw["bases"], (name, table)
    # The RHEL and Aurora I/O-Optimized reasons are the generator's current words.
    paris = raw["regions"]["eu-west-3"]["unpriced"]
    assert paris["ec2.rhel"] == source.RHEL_REASON
    assert paris["rds.aurora-mysql:aurora-iopt1"] == source.AURORA_IO_REASON


def test_the_committed_azure_snapshot_records_the_pinned_source_and_is_canonical() -> None:
    text = AZURE_FILE.read_text(encoding="utf-8")
    book = azure_pricing.parse_book(text)
    assert azure_pricing.dump_book(book) == text
    windows = book.tables["vm.windows"]
    assert (windows.module, windows.version, str(windows.date)) == (
        source.MODULE,
        source.VERSION,
        source.DATE,
    )
    assert (windows.sha256, windows.dirhash) == (source.ZIP_SHA256, source.DIRHASH)
    assert windows.path == "data/azure-instances.json"
    assert windows.method == gen_azure_prices.WINDOWS_METHOD
    assert "tools/gen_azure_prices.py" in book.tables["vm.linux"].source
    supplement = book.tables["vm.linux"].supplement
    assert supplement is not None
    assert (supplement.version, supplement.sha256, supplement.dirhash) == (
        source.VERSION,
        source.ZIP_SHA256,
        source.DIRHASH,
    )
    assert supplement.method == gen_azure_prices.LINUX_SUPPLEMENT_METHOD
    assert book.notes == gen_azure_prices.NOTES


def test_a_missing_source_directory_is_named_with_the_fix(tmp_path: Path) -> None:
    absent = tmp_path / "ec2-instances-info"
    with pytest.raises(source.SourceError, match=re.escape(str(absent))) as raised:
        source.check(absent)
    assert source.MODULE in str(raised.value)
    assert "--ec2-instances-info" in str(raised.value)
    assert gen_aws_prices.main(["--ec2-instances-info", str(absent), "--output", str(tmp_path / "o")]) == 2
    assert gen_azure_prices.main(["--ec2-instances-info", str(absent), "--output", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_a_source_directory_of_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "instances.json").write_text("[]")
    with pytest.raises(source.SourceError, match=r"hash to h1:.*not " + re.escape(source.DIRHASH)):
        source.check(tmp_path)


@pytest.mark.slow
def test_the_generator_reproduces_the_committed_aws_snapshot() -> None:
    if not SOURCE_DIR.is_dir():
        # No copy of the source here (as in CI): the recorded metadata above is the check.
        with pytest.raises(source.SourceError, match=re.escape(str(SOURCE_DIR))):
            source.check(SOURCE_DIR)
        return
    current = aws_pricing.parse_book(AWS_FILE.read_text(encoding="utf-8"))
    book = gen_aws_prices.generate(SOURCE_DIR, None, current.model_dump(mode="json", by_alias=True))
    assert aws_pricing.dump_book(book) == AWS_FILE.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_generator_reproduces_the_committed_azure_snapshot() -> None:
    if not SOURCE_DIR.is_dir():
        with pytest.raises(source.SourceError, match=re.escape(str(SOURCE_DIR))):
            source.check(SOURCE_DIR)
        return
    current = azure_pricing.parse_book(AZURE_FILE.read_text(encoding="utf-8"))
    book = gen_azure_prices.generate(SOURCE_DIR, None, current)
    assert azure_pricing.dump_book(book) == AZURE_FILE.read_text(encoding="utf-8")
