"""`cloudios prices show|refresh`: reading recorded offer files, writing snapshots, failing clearly."""

from __future__ import annotations

import argparse
import re
import socket
from pathlib import Path

import pytest

from cloudios import pricing
from cloudios.cli import prices, scan
from cloudios.cli.commands import prices as prices_commands
from cloudios.cli.manifests import ManifestError
from cloudios.pricing import aws as aws_pricing
from cloudios.pricing.aws import refresh

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pricing"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="cloudios")
    prices_commands.add_parser(parser.add_subparsers(dest="command", required=True))
    return prices.run(parser.parse_args(["prices", *argv]))


def test_show_prints_the_bundled_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show") == 0
    out = capsys.readouterr().out
    assert f"provider: aws, date: {aws_pricing.bundled().date}" in out
    assert "basis: list" in out
    assert "us-east-1:" in out
    assert "ec2instances.info" in out
    assert re.search(r"eu-west-3: \d+ prices; \d+ tables with a basis, \d+ unpriced;", out)


def test_refresh_from_dir_writes_a_loadable_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out" / "prices.json"
    assert run("refresh", "--from-dir", str(FIXTURES), "--regions", "us-east-1", "--output", str(output)) == 0
    book = pricing.load_book(output)
    assert isinstance(book, aws_pricing.AwsPriceBook)
    assert str(book.date) == "2024-11-26"
    assert (
        book.regions["us-east-1"].ec2["linux"]["m5.large"]
        == aws_pricing.bundled().regions["us-east-1"].ec2["linux"]["m5.large"]
    )
    assert set(book.regions["us-east-1"].ec2["linux"]) == {"m5.large", "t3.micro"}
    assert str(output) in capsys.readouterr().out
    assert run("show", "--path", str(output)) == 0
    assert "AWS Price List bulk API" in capsys.readouterr().out


def test_refresh_from_an_empty_dir_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("refresh", "--from-dir", str(tmp_path), "--output", str(tmp_path / "p.json")) == 2
    err = capsys.readouterr().err
    assert "no offer file found" in err
    assert not (tmp_path / "p.json").exists()


def test_bad_region_and_bad_snapshot_are_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("refresh", "--regions", "moon-1", "--output", str(tmp_path / "p.json")) == 2
    assert "moon-1" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    assert run("show", "--path", str(broken)) == 2
    assert str(broken) in capsys.readouterr().err


def test_network_failure_exits_2_and_keeps_the_bundled_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(refresh, "OFFER_URL", f"http://127.0.0.1:{port}/{{offer}}/{{region}}/index.json")
    output = tmp_path / "p.json"
    assert run("refresh", "--regions", "us-east-1", "--output", str(output)) == 2
    err = capsys.readouterr().err
    assert "could not download" in err
    assert f"bundled price snapshot ({aws_pricing.bundled().date}) stays in use" in err
    assert not output.exists()


def test_scan_prices_option_reads_any_cloud_snapshot_and_names_a_bad_file(tmp_path: Path) -> None:
    assert scan.load_prices(None) is None
    refreshed = tmp_path / "aws.json"
    refreshed.write_text(aws_pricing.dump_book(aws_pricing.bundled()))
    assert scan.load_prices(str(refreshed)) == aws_pricing.bundled()
    moon = tmp_path / "moon.json"
    moon.write_text('{"provider": "moon"}')
    with pytest.raises(
        ManifestError, match=rf"^{re.escape(str(moon))}: cannot use this price snapshot: .*'moon'"
    ):
        scan.load_prices(str(moon))
