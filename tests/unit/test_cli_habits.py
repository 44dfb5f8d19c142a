"""The CLI's habits: every command's --help, shell completion that completes, and a light start."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudios.cli import completion, kubectl_args
from cloudios.cli.commands import audit, demo, prices
from cloudios.cli.main import build_parser

CLOUDIOS = str(Path(sys.executable).parent / "cloudios")
# Modules `cloudios --help` must not import: SDKs, the store, the API models, the cluster clients.
HEAVY = (
    "boto3",
    "botocore",
    "google",
    "azure",
    "kopf",
    "kubernetes",
    "pydantic",
    "sqlalchemy",
    "alembic",
    "httpx",
    "rich",
    "cryptography",
    "yaml",
    "celpy",
    "shtab",
    "croniter",
    "jinja2",
    "moto",
)


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path of the tree: (), ("scan",), ("keys", "init"), ..."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from commands(child, (*path, name))


def parser_at(path: tuple[str, ...], root: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = root or build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


ALL = list(commands(build_parser()))


def test_the_tree_has_every_command() -> None:
    top = {p[0] for p in ALL if len(p) == 1}
    assert top == {
        "scan", "validate", "demo", "prices", "audit", "keys", "data", "ingest", "backup", "completion",
    }  # fmt: skip
    assert len(ALL) > 25  # with the subcommands of prices, audit, keys, data and backup


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "cloudios")
def test_every_help_has_a_description_examples_and_exit_codes(path: tuple[str, ...]) -> None:
    parser = parser_at(path)
    text = parser.format_help()
    assert parser.description, f"`cloudios {' '.join(path)}` has no description"
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0]
    assert "  cloudios " in examples or "completion" in path
    codes = text.split("exit codes:\n", 1)[1]
    assert "  0  " in codes
    assert "  2  " in codes


KUBECTL = list(commands(kubectl_args.build_parser()))


@pytest.mark.parametrize("path", KUBECTL, ids=lambda p: " ".join(("kubectl cloudios", *p)))
def test_every_kubectl_cloudios_help_has_a_description_examples_and_exit_codes(path: tuple[str, ...]) -> None:
    parser = parser_at(path, kubectl_args.build_parser())
    text = parser.format_help()
    assert parser.description
    assert "  kubectl cloudios " in text.split("examples:\n", 1)[1]
    assert all(f"  {code}  " in text.split("exit codes:\n", 1)[1] for code in (0, 1, 2))
    if path and path[0] not in {"export", "erase"}:  # their -o names the output file
        output = next(a for a in parser._actions if "--output" in a.option_strings)
        assert {"json", "yaml"} <= set(output.choices or ())


def test_help_and_version_exit_zero_from_the_installed_script() -> None:
    for args in (["--help"], ["scan", "--help"], ["keys", "init", "--help"], ["--version"]):
        result = subprocess.run([CLOUDIOS, *args], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, args
        assert result.stderr == ""
    scan_help = subprocess.run(
        [CLOUDIOS, "scan", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "3  an account could not be scanned" in scan_help
    assert "--profile NAME" in scan_help


def test_building_the_parser_imports_no_heavy_module() -> None:
    """In a fresh interpreter, as `cloudios --help` starts; heavy modules load when a command runs."""
    probe = (
        "import json, sys\n"
        "from cloudios.cli import main\n"
        "main.build_parser()\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(loaded) == []
    # And a command does load them (the probe can see a heavy import at all).
    probe_scan = probe.replace("main.build_parser()", "main.runner('scan')")
    loaded = subprocess.run(
        [sys.executable, "-c", probe_scan], capture_output=True, text=True, check=True
    ).stdout
    assert {"pydantic", "sqlalchemy", "rich"} <= set(json.loads(loaded))


def test_the_light_parsers_repeat_the_heavy_modules_values() -> None:
    from cloudios.emulators import registry  # noqa: PLC0415
    from cloudios.pricing.aws import refresh as aws_refresh  # noqa: PLC0415
    from cloudios.pricing.azure import refresh as azure_refresh  # noqa: PLC0415
    from cloudios.sinks.audit_checkpoints import DEFAULT_NAME  # noqa: PLC0415

    assert tuple(registry.providers()) == demo.PROVIDERS
    assert prices.AWS_DEFAULT_REGIONS == aws_refresh.DEFAULT_REGIONS
    assert prices.AZURE_DEFAULT_REGIONS == azure_refresh.DEFAULT_REGIONS
    assert prices.AWS_OFFER_URL == aws_refresh.OFFER_URL
    assert prices.AZURE_API == azure_refresh.API
    assert audit.DEFAULT_CONFIGMAP == DEFAULT_NAME


def shell(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: `make testdeps` installs it"
    return found


BASH_COMPLETE = """
source "$1"
shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_shtab_cloudios
printf '%s\\n' "${COMPREPLY[@]}"
"""


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["cloudios", "va"], {"validate"}),
        (["cloudios", "c"], {"completion"}),
        (["cloudios", "keys", "r"], {"rewrap", "rotate", "retire"}),
        (["cloudios", "scan", "-o", ""], {"table", "json", "yaml", "csv", "html"}),
        (["cloudios", "completion", "f"], {"fish"}),
    ],
)
def test_bash_completion_completes_partial_words(
    tmp_path: Path, words: list[str], expected: set[str]
) -> None:
    script = tmp_path / "cloudios.bash"
    script.write_text(completion.script("bash"))
    bash = shell("bash")
    subprocess.run([bash, "-n", str(script)], check=True)
    result = subprocess.run(
        [bash, "-c", BASH_COMPLETE, "complete", str(script), *words],
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(result.stdout.split()) == expected


def test_bash_completion_offers_manifest_files_after_f(tmp_path: Path) -> None:
    script = tmp_path / "cloudios.bash"
    script.write_text(completion.script("bash"))
    for name in ("team-a.yaml", "team-b.yaml", "other.txt"):
        (tmp_path / name).write_text("")
    words = ["cloudios", "validate", "-f", "team"]
    result = subprocess.run(
        [shell("bash"), "-c", BASH_COMPLETE, "complete", str(script), *words],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert set(result.stdout.split()) == {"team-a.yaml", "team-b.yaml"}


def test_zsh_and_fish_scripts_parse_and_fish_completes(tmp_path: Path) -> None:
    zsh_script = tmp_path / "_cloudios"
    zsh_script.write_text(completion.script("zsh"))
    subprocess.run([shell("zsh"), "-n", str(zsh_script)], check=True)
    fish_script = tmp_path / "cloudios.fish"
    fish_script.write_text(completion.script("fish"))
    fish = shell("fish")
    subprocess.run([fish, "-n", str(fish_script)], check=True)
    line = f"source {fish_script}; complete -C 'cloudios keys r'; complete -C 'cloudios scan -o '"
    out = subprocess.run([fish, "--no-config", "-c", line], capture_output=True, text=True, check=True).stdout
    offered = {row.split("\t")[0] for row in out.splitlines()}
    assert {"rewrap", "rotate", "retire", "yaml", "json", "table"} <= offered
    assert "scan" not in offered  # a command is no longer offered once one is given
